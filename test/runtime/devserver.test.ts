import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import {
  isAlive,
  readDevServer,
  startDevServer,
  startDevServerOnFreePorts,
  stopDevServer,
} from '../../src/runtime/devserver';
import { freePort } from '../../src/util/ports';
import { resolveConnection } from '../../src/runtime/connection';
import { startTestServer, type TestServer } from '../helpers/temporal';

let ts: TestServer;
before(async () => {
  ts = await startTestServer();
});
after(async () => {
  await ts?.stop();
});

test('the dev server registers the alignrun search attributes', async () => {
  const { customAttributes: keys } = await ts.env.connection.operatorService.listSearchAttributes({
    namespace: 'default',
  });
  for (const k of ['AlignrunExperiment', 'AlignrunStatus', 'AlignrunPlanHash'])
    assert.ok(keys && k in keys, k);
});

test('starting again with the same state folder returns the running server', async () => {
  const again = await startDevServer({ stateDir: ts.stateDir });
  assert.equal(again.pid, ts.server.pid);
  assert.equal(readDevServer(ts.stateDir)?.address, ts.server.address);
});

test('the connection falls back to the recorded dev server, env wins over it', () => {
  assert.equal(resolveConnection({ state: ts.stateDir }, {}).address, ts.server.address);
  const cfg = resolveConnection(
    { state: ts.stateDir },
    { TEMPORAL_ADDRESS: 'x:1', TEMPORAL_NAMESPACE: 'ns' },
  );
  assert.deepEqual([cfg.address, cfg.namespace, cfg.source], ['x:1', 'ns', 'env']);
  assert.throws(() => resolveConnection({ state: '/nonexistent-alignrun' }, {}), /alignrun up/);
  assert.throws(
    () => resolveConnection({ tlsCert: 'a.pem' }, { TEMPORAL_ADDRESS: 'x:1' }),
    /TEMPORAL_TLS_KEY/,
  );
});

test('a busy port is named in the error', async () => {
  await assert.rejects(
    startDevServer({ stateDir: ts.stateDir + '-other', port: ts.server.port }),
    new RegExp(`Port ${ts.server.port} .*already in use`),
  );
});

test('a port taken between the pick and the bind is replaced by a fresh one', async () => {
  const stateDir = ts.stateDir + '-retry';
  const picked: number[] = [];
  // The first pick is a port the running server holds, as another test file might by then.
  const pick = async () => {
    const port = picked.length === 0 ? ts.server.port : await freePort();
    picked.push(port);
    return port;
  };
  try {
    const info = await startDevServerOnFreePorts({ stateDir }, 3, pick);
    assert.equal(picked.length, 4, 'one pair of ports refused, a second pair used');
    assert.notEqual(info.port, ts.server.port);
    assert.equal(info.port, picked[2]);
  } finally {
    await stopDevServer(stateDir);
    rmSync(stateDir, { recursive: true, force: true });
  }
  await assert.rejects(
    startDevServerOnFreePorts({ stateDir }, 1, async () => ts.server.port),
    /already in use/,
    "the last attempt's error reaches the caller",
  );
});

// Last: stops this file's own server (one server per test file).
test('stop kills the process group and forgets the record', async () => {
  const { pid } = ts.server;
  assert.ok(isAlive(pid));
  assert.equal(await stopDevServer(ts.stateDir), true);
  assert.equal(isAlive(pid), false);
  assert.equal(readDevServer(ts.stateDir), undefined);
  assert.equal(await stopDevServer(ts.stateDir), false);
});

test('a missing Temporal CLI tells the user to run setup', async () => {
  const saved = process.env.ALIGNRUN_VENV;
  process.env.ALIGNRUN_VENV = '/nonexistent-venv';
  try {
    await assert.rejects(startDevServer({ stateDir: '/tmp/alignrun-no-venv', port: 1 }), /npm run setup/);
  } finally {
    if (saved === undefined) delete process.env.ALIGNRUN_VENV;
    else process.env.ALIGNRUN_VENV = saved;
  }
});
