// `alignrun compare`: a sweep's trials and a single run side by side, from finished workflows.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { compareColumns, renderComparison } from '../../src/runtime/compare';
import { trialInput } from '../../src/runtime/slice';
import { startTestStack, type TestStack } from '../helpers/temporal';
import { buildPlan } from './plans';

let ts: TestStack;
before(async () => {
  ts = await startTestStack();
  const sweep = buildPlan(
    'cmp',
    [0.5, 1].map((lambda) => [
      { name: 'prompts', kind: 'noop' as const, params: { metrics: { count: 8 } } },
      {
        name: 'eval',
        kind: 'noop' as const,
        deps: ['prompts'],
        params: { lambda, metrics: { score: lambda * 10, steps: 3 } },
      },
    ]),
  );
  sweep.trials.forEach((t, i) => (t.assignment = { 'stages.reward.lambda': [0.5, 1][i] }));
  await ts.env.client.workflow.execute('sweep', {
    taskQueue: 'cpu',
    workflowId: 'cmp-sweep',
    args: [{ plan: sweep }],
  });
  const single = buildPlan('cmp1', [
    [{ name: 'eval', kind: 'noop', params: { metrics: { score: 2.25, steps: 3 } } }],
  ]);
  await ts.env.client.workflow.execute('experiment', {
    taskQueue: 'cpu',
    workflowId: 'cmp-one',
    args: [trialInput(single, 't0')],
  });
});
after(async () => ts?.stop());

test('a sweep gives a column per trial with its swept values; a run gives one column', async () => {
  const columns = await compareColumns(ts.env.client, ['cmp-sweep', 'cmp-one']);
  assert.deepEqual(
    columns.map((c) => [c.label, c.state, c.params, c.metrics['eval.score']]),
    [
      ['cmp-sweep/t0', 'completed', { 'stages.reward.lambda': 0.5 }, 5],
      ['cmp-sweep/t1', 'completed', { 'stages.reward.lambda': 1 }, 10],
      ['cmp-one', 'completed', {}, 2.25],
    ],
  );
  assert.equal(
    renderComparison(columns, { metrics: ['eval.*'] }),
    [
      '                        cmp-sweep/t0  cmp-sweep/t1  cmp-one',
      '  state                 completed     completed     completed',
      '  stages.reward.lambda  0.5           1             -',
      '  eval.score            5             10            2.25',
      '  eval.steps            3             3             3',
    ].join('\n'),
  );
  const diff = renderComparison(columns, { metrics: ['eval.*'], onlyDifferent: true });
  assert.doesNotMatch(diff, /eval\.steps|state/);
  assert.match(diff, /eval\.score/);
  assert.equal((await compareColumns(ts.env.client, ['cmp-sweep/t1'])).length, 1);
});

test('the command prints the table; unknown runs and trials are one sentence', () => {
  const cli = (...args: string[]) =>
    spawnSync(
      process.execPath,
      [resolve('bin/alignrun.js'), 'compare', '--address', ts.server.address, ...args],
      {
        encoding: 'utf8',
      },
    );
  const ok = cli('cmp-sweep', '--metric', 'eval.score');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^\s+eval\.score\s+5\s+10$/m);
  const noRun = cli('nope');
  assert.equal(noRun.status, 1);
  assert.match(noRun.stderr.trim(), /^No run with id nope; see `alignrun status`\.$/);
  assert.match(cli('cmp-sweep/t9').stderr, /Sweep cmp-sweep has no trial t9; it has t0, t1\./);
  assert.match(cli('cmp-one/t0').stderr, /cmp-one is a single run, not a sweep/);
});
