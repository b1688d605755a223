// The real `alignrun` command, as a user runs it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { tempDir } from './fixtures';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'alignrun.js');

async function alignrun(
  state: string,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      env: { ...process.env, ALIGNRUN_STATE: state },
    });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

test(
  'raters add prints a working link once; list and revoke; bad input is one sentence',
  { timeout: 60_000 },
  async () => {
    const { dir, cleanup } = tempDir();
    try {
      const added = await alignrun(dir, 'raters', 'add', 'alice', '--url', 'http://labels.example:9000/');
      assert.equal(added.code, 0, added.err);
      const link = /^(http:\/\/labels\.example:9000\/\?token=[A-Za-z0-9_-]+)$/m.exec(added.out);
      assert.ok(link, added.out);

      const dup = await alignrun(dir, 'raters', 'add', 'alice');
      assert.equal(dup.code, 1);
      assert.equal(dup.err.trim(), "alignrun raters: A rater named 'alice' already exists.");
      const bad = await alignrun(dir, 'raters', 'add', 'no/slash');
      assert.equal(bad.code, 1);
      assert.equal(bad.err.trim().split('\n').length, 1);
      assert.doesNotMatch(bad.err, /\bat \//, 'no stack trace');

      await alignrun(dir, 'raters', 'add', 'bob');
      assert.equal((await alignrun(dir, 'raters', 'revoke', 'bob')).code, 0);
      const list = await alignrun(dir, 'raters', 'list');
      assert.match(list.out, /^alice\s+active/m);
      assert.match(list.out, /^bob\s+revoked/m);
      assert.doesNotMatch(list.out, /token/);
      const unknown = await alignrun(dir, 'raters', 'revoke', 'carol');
      assert.equal(unknown.err.trim(), "alignrun raters: There is no rater 'carol'.");
      assert.equal((await alignrun(dir, 'raters', 'frobnicate')).code, 1);

      // The printed token works against a label server on the same state folder.
      const server = spawn(process.execPath, [BIN, 'label-server', '--port', '0'], {
        env: { ...process.env, ALIGNRUN_STATE: dir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const lines = createInterface({ input: server.stdout! });
      const url = await new Promise<string>((resolve, reject) => {
        lines.on('line', (l) => {
          const m = /^Label server at (\S+) \(0 open tasks\)/.exec(l);
          if (m) resolve(m[1]);
        });
        server.once('exit', (c) => reject(new Error(`label-server exited with ${c}`)));
      });
      const token = new URL(link![1]).searchParams.get('token')!;
      const res = await fetch(`${url}/api/tasks`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      assert.deepEqual(((await res.json()) as { rater: { name: string } }).rater.name, 'alice');
      const stopped = new Promise<number | null>((r) => server.once('exit', r));
      server.kill('SIGTERM');
      assert.equal(await stopped, 0);
    } finally {
      cleanup();
    }
  },
);

test('label-server refuses a busy port or a bad --port with one sentence', { timeout: 30_000 }, async () => {
  const { dir, cleanup } = tempDir();
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (blocker.address() as AddressInfo).port;
    const busy = await alignrun(dir, 'label-server', '--port', String(port));
    assert.equal(busy.code, 1);
    assert.equal(
      busy.err.trim(),
      `alignrun label-server: port ${port} is in use; pass --port N (0 picks a free one).`,
    );
    const bad = await alignrun(dir, 'label-server', '--port', 'eighty');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /--port must be a whole number/);
  } finally {
    blocker.close();
    cleanup();
  }
});
