import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startLabelServer, type LabelServer } from '../../src/labels/server';
import type { LabelStore } from '../../src/labels/store';
import { taskOf, tempStore, writePngs } from './fixtures';

let store: LabelStore;
let server: LabelServer;
let cleanup: () => void;
let alice: { id: string; token: string };
let dir: string;

before(async () => {
  ({ store, cleanup, dir } = tempStore());
  const task = taskOf('t1', 3, dir, 2);
  await writePngs(task);
  store.publishTask(task);
  store.publishTask({ ...taskOf('t2', 1, dir), title: 'Second task' });
  const a = store.addRater('alice');
  alice = { id: a.rater.id, token: a.token };
  server = await startLabelServer({ store, port: 0 });
});

after(async () => {
  await server.close();
  cleanup();
});

const json = async (r: Response | Promise<Response>): Promise<any> => (await r).json();
const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const get = (path: string, token = alice.token) => fetch(server.url + path, { headers: auth(token) });
const post = (path: string, body: unknown, token = alice.token) =>
  fetch(server.url + path, {
    method: 'POST',
    headers: { ...auth(token), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

test('the page is served with a CSP that allows only its own inline script', async () => {
  const res = await fetch(server.url + '/?token=whatever');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type')!, /text\/html/);
  assert.match(res.headers.get('content-security-policy')!, /script-src 'sha256-[A-Za-z0-9+/=]+'/);
  assert.match(await res.text(), /Open tasks/);
});

test('open tasks list their progress for the rater', async () => {
  const res = await get('/api/tasks');
  assert.equal(res.status, 200);
  const body = await json(res);
  assert.deepEqual(body.rater, { id: alice.id, name: 'alice' });
  assert.deepEqual(
    body.tasks.map((t: any) => [t.id, t.progress.total, t.progress.quorum, t.progress.mine]),
    [
      ['t1', 3, 2, 0],
      ['t2', 1, 1, 0],
    ],
  );
});

test('next, label, progress and undo round-trip through the API', async () => {
  const next = await json(get('/api/tasks/t1/next'));
  assert.equal(next.image.id, 'img-0');
  assert.equal(next.image.url, '/images/t1/img-0');
  assert.equal(next.image.path, undefined, 'server file paths are not shown to raters');

  const img = await get(next.image.url);
  assert.equal(img.status, 200);
  assert.equal(img.headers.get('content-type'), 'image/png');
  assert.deepEqual(Buffer.from(await img.arrayBuffer()), readFileSync(store.getImage('t1', 'img-0')!.path));

  const res = await post('/api/labels', { task: 't1', image: 'img-0', value: 'good' });
  assert.equal(res.status, 200);
  const saved = await json(res);
  assert.equal(saved.changed, true);
  assert.deepEqual(saved.label, { task: 't1', image: 'img-0', value: 'good', seq: saved.label.seq });
  assert.equal(store.labels('t1')[0].rater, alice.id, 'stored as the token holder');

  const again = await json(post('/api/labels', { task: 't1', image: 'img-0', value: 'good' }));
  assert.equal(again.changed, false);
  assert.equal(store.labels('t1').length, 1);

  assert.equal((await json(get('/api/tasks/t1/next'))).image.id, 'img-1');
  const progress = await json(get('/api/tasks/t1/progress'));
  assert.deepEqual([progress.total, progress.complete, progress.mine], [3, 0, 1]);

  const undone = await json(post('/api/labels/undo', { task: 't1' }));
  assert.deepEqual(undone.undone, { image: 'img-0', value: 'good' });
  assert.equal(store.labels('t1').length, 0);
  const nothing = await json(post('/api/labels/undo', { task: 't1' }));
  assert.equal(nothing.undone, null);
});

test('a finished task answers with no next image', async () => {
  await post('/api/labels', { task: 't2', image: 'img-0', value: 'skip' });
  const next = await json(get('/api/tasks/t2/next'));
  assert.equal(next.image, null);
  assert.equal(next.progress.mine, 1);
});

test('a closed task refuses labels with 409 and keeps what it had', async () => {
  store.publishTask(taskOf('t3', 2, dir));
  assert.equal((await post('/api/labels', { task: 't3', image: 'img-0', value: 'bad' })).status, 200);
  store.closeTask('t3');
  const res = await post('/api/labels', { task: 't3', image: 'img-1', value: 'bad' });
  assert.equal(res.status, 409);
  assert.match((await json(res)).error, /closed/);
  assert.equal((await get('/api/tasks/t3/next')).status, 409);
  assert.equal(store.labels('t3').length, 1);
});

test('unknown task or image gives 404 with a JSON error', async () => {
  for (const [path, body] of [
    ['/api/labels', { task: 'nope', image: 'img-0', value: 'good' }],
    ['/api/labels', { task: 't1', image: 'nope', value: 'good' }],
  ] as const) {
    const res = await post(path, body);
    assert.equal(res.status, 404);
    assert.equal(typeof (await json(res)).error, 'string');
  }
  assert.equal((await get('/api/tasks/nope/next')).status, 404);
  assert.equal((await get('/api/nothing')).status, 404);
  assert.equal(
    (await fetch(server.url + '/api/tasks', { method: 'DELETE', headers: auth(alice.token) })).status,
    405,
  );
});

test('a missing image file is a 404, not a crash', async () => {
  store.publishTask({ ...taskOf('ghost', 1, '/nonexistent-dir'), title: 'Ghost' });
  const res = await get('/images/ghost/img-0');
  assert.equal(res.status, 404);
  assert.match((await json(res)).error, /missing/);
});
