// The sweep trials view: assignment, objective per trial, mean per parameter value, best trial.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { objectiveValue, renderTrials } from '../../src/runtime/render';
import type { SweepProgress } from '../../src/runtime/protocol';

test('objective values are found by stage.metric, or by a bare name in any stage', () => {
  const m = { 'reward.test_accuracy': 0.8, 'evaluate.gain': 1.2 };
  assert.equal(objectiveValue(m, 'reward.test_accuracy'), 0.8);
  assert.equal(objectiveValue(m, 'gain'), 1.2);
  assert.equal(objectiveValue(m, 'evaluate.test_accuracy'), undefined);
  assert.equal(objectiveValue(undefined, 'gain'), undefined);
});

test('a sweep with an objective shows it per trial, its mean per parameter value and the best trial', () => {
  const acc = [0.7, 0.6, 0.8, 0.75, 0.85];
  const trials: SweepProgress['trials'] = {};
  const assignments: Record<string, Record<string, unknown>> = {};
  acc.forEach((a, i) => {
    trials[`t${i}`] = { state: 'completed', metrics: { 'reward.test_accuracy': a, 'reward.examples': 10 } };
    assignments[`t${i}`] = { 'stages.reward.lambda': i < 2 ? 0 : 0.5, 'stages.reward.seed': i % 2 };
  });
  trials.t5 = { state: 'running' };
  assignments.t5 = { 'stages.reward.lambda': 1, 'stages.reward.seed': 0 };
  const out = renderTrials('sw', {
    experiment: 'x',
    status: 'running',
    generation: 0,
    maxParallel: 2,
    running: ['t5'],
    trials,
    shared: [],
    objective: { metric: 'reward.test_accuracy', goal: 'maximize' },
    assignments,
  }).join('\n');
  assert.match(out, /t2\s+reward\.lambda=0\.5 reward\.seed=0\s+completed\s+reward\.test_accuracy=0\.8000/);
  // lambda 0: mean of 0.7, 0.6; lambda 0.5: mean of 0.8, 0.75, 0.85; the running trial is left out.
  assert.match(out, /reward\.lambda\s+0\s+2\s+0\.65(00)?\s/);
  assert.match(out, /reward\.lambda\s+0\.5\s+3\s+0\.8000\s+0\.05000/);
  assert.doesNotMatch(out, /reward\.lambda\s+1\s/);
  assert.match(out, /best \(maximize\): t4 reward\.test_accuracy=0\.8500 /);
});
