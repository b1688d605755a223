// Recorded histories of real runs replay against the current workflow code without a server:
// a change that breaks determinism for runs already in flight fails here.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { repoRoot } from '../../src/runtime/paths';
import { workflowBundle } from '../../src/runtime/workers';

const dir = path.join(repoRoot, 'test/fixtures/histories');
Runtime.install({ logger: new DefaultLogger('WARN') });

test('every recorded history replays deterministically', async () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 10, 'fixtures are present');
  const histories = files.map((f) => ({
    workflowId: path.basename(f, '.json'),
    history: historyFromJSON(JSON.parse(readFileSync(path.join(dir, f), 'utf8'))),
  }));
  const results: Record<string, string> = {};
  for await (const r of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    results[r.workflowId] = r.error ? String(r.error) : 'ok';
  }
  assert.deepEqual(results, Object.fromEntries(histories.map((h) => [h.workflowId, 'ok'])));
});
