// What the label server refuses: no or bad tokens, writing as someone else, reading files that
// are not registered images, and malformed or oversized bodies (always 4xx with JSON, never 500).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLabelServer, type LabelServer } from '../../src/labels/server';
import type { LabelStore } from '../../src/labels/store';
import { taskOf, tempStore, writePngs } from './fixtures';

let store: LabelStore;
let server: LabelServer;
let cleanup: () => void;
let dir: string;
const tokens: Record<string, string> = {};
const ids: Record<string, string> = {};

before(async () => {
  ({ store, cleanup, dir } = tempStore());
  const task = taskOf('t', 4, dir);
  await writePngs(task);
  store.publishTask(task);
  writeFileSync(join(dir, 'secret.txt'), 'not an image');
  for (const name of ['a', 'b', 'gone']) {
    const r = store.addRater(name);
    tokens[name] = r.token;
    ids[name] = r.rater.id;
  }
  store.revokeRater('gone');
  server = await startLabelServer({ store });
});

after(async () => {
  await server.close();
  cleanup();
});

/** A raw request, so the path reaches the server exactly as written (fetch would normalise '..'). */
function raw(
  method: string,
  path: string,
  headers: Record<string, string | number>,
  body?: Buffer | string,
): Promise<{ status: number; json: any; text: string }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, json, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const bearer = (name: string) => ({ authorization: `Bearer ${tokens[name]}` });
const postLabel = (name: string, body: string, extra: Record<string, string> = {}) =>
  raw('POST', '/api/labels', { ...bearer(name), 'content-type': 'application/json', ...extra }, body);

test('no token, an unknown token or a malformed header gives 401', async () => {
  const headerSets: Record<string, string>[] = [
    {},
    { authorization: 'Bearer not-a-real-token-at-all' },
    { authorization: 'Basic abc' },
  ];
  for (const headers of headerSets) {
    for (const [method, path] of [
      ['GET', '/api/tasks'],
      ['GET', '/api/tasks/t/next'],
      ['GET', '/images/t/img-0'],
      ['POST', '/api/labels'],
    ]) {
      const res = await raw(method, path, headers);
      assert.equal(res.status, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
      assert.equal(typeof res.json.error, 'string');
    }
  }
  assert.equal(store.labels('t').length, 0);
});

test('a revoked token is refused with 403 and writes nothing', async () => {
  const res = await postLabel('gone', JSON.stringify({ task: 't', image: 'img-0', value: 'good' }));
  assert.equal(res.status, 403);
  assert.match(res.json.error, /revoked/);
  assert.equal((await raw('GET', '/api/tasks', bearer('gone'))).status, 403);
  assert.equal(store.labels('t').length, 0);
});

test('rater A cannot write as rater B: the rater comes from the token only', async () => {
  const asB = await postLabel(
    'a',
    JSON.stringify({ task: 't', image: 'img-0', value: 'good', rater: ids.b }),
  );
  assert.equal(asB.status, 400);
  assert.match(asB.json.error, /Unknown field 'rater'/);
  const ok = await postLabel('a', JSON.stringify({ task: 't', image: 'img-1', value: 'bad' }));
  assert.equal(ok.status, 200);
  // b's undo cannot take back a's label.
  const undo = await raw(
    'POST',
    '/api/labels/undo',
    { ...bearer('b'), 'content-type': 'application/json' },
    JSON.stringify({ task: 't' }),
  );
  assert.equal(undo.status, 200);
  assert.equal(undo.json.undone, null);
  assert.deepEqual(
    store.labels('t').map((l) => [l.image, l.rater]),
    [['img-1', ids.a]],
  );
});

test('image routes serve only registered images: traversal and foreign files are refused', async () => {
  const ok = await raw('GET', '/images/t/img-0', bearer('a'));
  assert.equal(ok.status, 200);
  for (const path of [
    '/images/t/..%2Fsecret.txt',
    '/images/t/..%2F..%2F..%2Fetc%2Fpasswd',
    '/images/../../etc/passwd',
    '/images/t/%2e%2e/%2e%2e/etc/passwd',
    `/images/t/${encodeURIComponent(join(dir, 'secret.txt'))}`,
    '/images/t/secret.txt',
    '/images/t/img-0/../../secret.txt',
    '/images/t/%E0%A4%A',
    '/images/t',
  ]) {
    const res = await raw('GET', path, bearer('a'));
    assert.ok(res.status >= 400 && res.status < 500, `${path} gave ${res.status}`);
    assert.ok(!res.text.includes('not an image') && !res.text.includes('root:'), `${path} leaked a file`);
  }
});

test('malformed bodies, wrong types and unknown fields give 4xx with a JSON error', async () => {
  const cases: [string, Record<string, string>?][] = [
    ['{not json'],
    [''],
    ['[]'],
    ['null'],
    ['"good"'],
    ['{}'],
    ['{"task":"t","image":"img-2"}'],
    ['{"task":"t","image":"img-2","value":"great"}'],
    ['{"task":"t","image":"img-2","value":1}'],
    ['{"task":["t"],"image":"img-2","value":"good"}'],
    ['{"task":"t","image":null,"value":"good"}'],
    ['{"task":"t","image":"img-2","value":"good","extra":true}'],
    ['{"task":"t","image":"img-2","value":"good","__proto__":{"x":1}}'],
    [JSON.stringify({ task: 't'.repeat(300), image: 'img-2', value: 'good' })],
    ['{"task":"t","image":"img-2","value":"good"}', { 'content-type': 'text/plain' }],
  ];
  for (const [body, headers] of cases) {
    const res = await postLabel('a', body, headers);
    assert.ok(res.status >= 400 && res.status < 500, `${body} gave ${res.status}`);
    assert.equal(typeof res.json?.error, 'string', `${body} gave no JSON error`);
  }
  assert.equal(store.labels('t').length, 1, 'nothing new was stored and nothing was lost');
});

test('bodies over 64 KiB are refused with 413, declared or streamed', async () => {
  const big = JSON.stringify({ task: 't', image: 'img-2', value: 'good', pad: 'x'.repeat(70 * 1024) });
  const declared = await postLabel('a', big);
  assert.equal(declared.status, 413);
  assert.match(declared.json.error, /64 KiB/);
  const chunked = await postLabel('a', big, { 'transfer-encoding': 'chunked' });
  assert.equal(chunked.status, 413);
  const huge = await postLabel('a', 'x'.repeat(4 * 1024 * 1024));
  assert.equal(huge.status, 413);
  // The server is still healthy afterwards.
  assert.equal((await raw('GET', '/api/tasks', bearer('a'))).status, 200);
});

test('a garbage request line gets a 400 and the server keeps serving', async () => {
  const { hostname, port } = new URL(server.url);
  const net = await import('node:net');
  const reply = await new Promise<string>((resolve) => {
    const s = net.connect(Number(port), hostname, () => s.write('GARBAGE \x00\x01 HTTP/9\r\n\r\n'));
    let text = '';
    s.on('data', (d) => (text += d));
    s.on('close', () => resolve(text));
    s.on('error', () => resolve(text));
  });
  assert.match(reply, /^HTTP\/1.1 400/);
  assert.equal((await raw('GET', '/api/tasks', bearer('a'))).status, 200);
});
