// The labelling server on the open internet: slow clients are cut off, oversized headers get 431,
// the auth scheme is case-insensitive, raters see only their own progress, and a client that
// goes away mid-request is one log line, not a failure with a stack trace.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { startLabelServer, type LabelServer } from '../../src/labels/server';
import type { LabelStore } from '../../src/labels/store';
import { taskOf, tempStore, writePngs } from './fixtures';

let store: LabelStore;
let server: LabelServer;
let cleanup: () => void;
let alice: string;
let bob: string;
const logged: string[] = [];

before(async () => {
  let dir: string;
  ({ store, cleanup, dir } = tempStore());
  const task = taskOf('t1', 3, dir, 2);
  await writePngs(task);
  store.publishTask(task);
  alice = store.addRater('alice').token;
  bob = store.addRater('bob-the-rater').token;
  server = await startLabelServer({
    store,
    port: 0,
    timeouts: { headersMs: 500, requestMs: 1000, idleMs: 500 },
    log: (l) => logged.push(l),
  });
});

after(async () => {
  await server.close();
  cleanup();
});

const url = () => new URL(server.url);

/** A raw connection that sends `text` and reports what came back and when the server closed it. */
function raw(text: string, keepSending?: () => string): Promise<{ reply: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const socket = connect(Number(url().port), url().hostname);
    let reply = '';
    let timer: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      socket.write(text);
      // A slowloris client: a header line every 200 ms, never the blank line that ends them.
      if (keepSending) timer = setInterval(() => socket.writable && socket.write(keepSending()), 200);
    });
    socket.on('data', (d) => (reply += d.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ reply, closedAfterMs: Date.now() - start });
    });
    setTimeout(() => {
      socket.destroy();
      reject(new Error('the server kept the connection open for 10 s'));
    }, 10_000).unref();
  });
}

test('a client that trickles headers is cut off at the header deadline', async () => {
  const { closedAfterMs } = await raw('GET /api/tasks HTTP/1.1\r\nhost: x\r\n', () => 'x-slow: 1\r\n');
  assert.ok(closedAfterMs < 5000, `closed after ${closedAfterMs} ms`);
});

test('a request whose body never arrives is cut off at the request deadline', async () => {
  const { closedAfterMs } = await raw(
    `POST /api/labels HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${alice}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"ta`,
  );
  assert.ok(closedAfterMs < 5000, `closed after ${closedAfterMs} ms`);
});

test('a 20 KB header gets 431', async () => {
  const r = await fetch(`${server.url}/api/tasks`, { headers: { 'x-big': 'a'.repeat(20_000) } }).catch(
    () => null,
  );
  if (r) assert.equal(r.status, 431);
  else {
    const { reply } = await raw(`GET /api/tasks HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.match(reply, /^HTTP\/1\.1 431 /);
  }
});

test('the Bearer scheme is case-insensitive', async () => {
  for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
    const r = await fetch(`${server.url}/api/tasks`, { headers: { authorization: `${scheme} ${alice}` } });
    assert.equal(r.status, 200, scheme);
  }
});

test("a rater's progress holds their own count and the task's, not other raters' names or counts", async () => {
  const post = (token: string, image: string) =>
    fetch(`${server.url}/api/labels`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ task: 't1', image, value: 'good' }),
    });
  assert.equal((await post(bob, 'img-0')).status, 200);
  assert.equal((await post(bob, 'img-1')).status, 200);
  assert.equal((await post(alice, 'img-0')).status, 200);
  for (const path of ['/api/tasks/t1/progress', '/api/tasks/t1/next', '/api/tasks']) {
    const text = await (
      await fetch(server.url + path, { headers: { authorization: `Bearer ${alice}` } })
    ).text();
    assert.doesNotMatch(text, /bob-the-rater|perRater/, `${path}: ${text}`);
  }
  const p = (await (
    await fetch(`${server.url}/api/tasks/t1/progress`, { headers: { authorization: `Bearer ${alice}` } })
  ).json()) as Record<string, number>;
  assert.deepEqual([p.total, p.complete, p.mine], [3, 1, 1]);
});

test('a client that aborts mid-body is one log line without a stack trace', async () => {
  logged.length = 0;
  await new Promise<void>((resolve) => {
    const socket = connect(Number(url().port), url().hostname, () => {
      socket.write(
        `POST /api/labels HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${alice}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"ta`,
      );
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 100);
    });
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(logged.length, 1, logged.join('\n---\n'));
  assert.doesNotMatch(logged[0], /\n| {4}at /, logged[0]);
  assert.match(
    logged[0],
    /^label server: POST \/api\/labels: the client closed the connection before the reply$/,
  );
});
