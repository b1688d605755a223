import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { compileFile } from '../../src/spec/compile';
import type { Plan } from '../../src/spec/plan';

const work = mkdtempSync(join(tmpdir(), 'alignrun-compile-'));
const stateDir = join(work, 'state');
cpSync(resolve('test/fixtures/spec/model'), join(work, 'model'), { recursive: true });

const PIPELINE = `apiVersion: alignrun/v1
metadata: { name: t, seed: 1 }
models:
  base: { path: model }
stages:
  prompts: { kind: prompts, per_category: 4 }
  generate: { kind: generate, model: base, prompts: prompts }
  label: { kind: label, images: generate, source: { type: simulated } }
  reward: { kind: reward, labels: label }
  finetune: { kind: finetune, model: base, labels: label, reward: reward }
  evaluate: { kind: evaluate, models: [base, finetune], reward: reward }
`;

let n = 0;
async function plan(text: string): Promise<Plan> {
  const file = join(work, `spec${n++}.yaml`);
  writeFileSync(file, text);
  const { plan, diagnostics } = await compileFile(file, { stateDir });
  assert.deepEqual(diagnostics, []);
  return plan!;
}

const keyOf = (p: Plan, trial: number, stage: string) => p.trials[trial].stages[stage];

test('a spec without a sweep is one trial; defaults are applied to every stage', async () => {
  const p = await plan(PIPELINE);
  assert.equal(p.trials.length, 1);
  assert.equal(p.order.length, 6);
  const reward = p.instances[keyOf(p, 0, 'reward')];
  assert.equal(reward.params.lambda, 0.5);
  assert.equal(reward.params.perturbations, 3);
  assert.equal(reward.queue, 'gpu');
  assert.deepEqual(reward.retry, {
    maximumAttempts: 3,
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '5m',
  });
  assert.deepEqual(reward.deps, [keyOf(p, 0, 'label')]);
  // Dependencies come before their dependents in the plan's order.
  const pos = new Map(p.order.map((k, i) => [k, i]));
  for (const k of p.order) for (const d of p.instances[k].deps) assert.ok(pos.get(d)! < pos.get(k)!);
});

test('compiling twice gives the same plan hash and keys', async () => {
  const a = await plan(PIPELINE);
  const b = await plan(PIPELINE);
  assert.equal(a.planHash, b.planHash);
  assert.deepEqual(a.order, b.order);
});

test('a grid sweep has the product of the value counts as trials, and shares upstream instances', async () => {
  const p = await plan(
    PIPELINE +
      `sweep:
  parameters:
    stages.reward.lambda: [0, 0.5, 1]
    stages.finetune.beta: [0, 1]
  max_parallel: 3
`,
  );
  assert.equal(p.trials.length, 6);
  assert.equal(p.sweep?.maxParallel, 3);
  // prompts, generate, label: one each; reward: one per lambda; finetune and evaluate: one per trial.
  const byStage = (s: string) => new Set(p.trials.map((t) => t.stages[s])).size;
  assert.deepEqual(
    ['prompts', 'generate', 'label', 'reward', 'finetune', 'evaluate'].map(byStage),
    [1, 1, 1, 3, 6, 6],
  );
  assert.equal(p.order.length, 3 + 3 + 6 + 6);
  assert.deepEqual(p.instances[keyOf(p, 0, 'label')].trials, ['t0', 't1', 't2', 't3', 't4', 't5']);
  assert.deepEqual(p.trials[3].assignment, { 'stages.reward.lambda': 0.5, 'stages.finetune.beta': 1 });
});

test('grid count is the product for three parameters, and max_trials caps it', async () => {
  const sweep = `sweep:
  parameters:
    stages.reward.lambda: [0, 1]
    stages.reward.temperature: { values: [0.5, 1, 2] }
    stages.finetune.steps: { distribution: int, min: 1, max: 2 }
`;
  assert.equal((await plan(PIPELINE + sweep)).trials.length, 12);
  assert.equal((await plan(PIPELINE + sweep + '  max_trials: 5\n')).trials.length, 5);
});

test('changing a downstream parameter never changes an upstream key', async () => {
  const a = await plan(PIPELINE);
  const b = await plan(
    PIPELINE.replace('{ kind: finetune, model: base,', '{ kind: finetune, steps: 17, model: base,'),
  );
  for (const s of ['prompts', 'generate', 'label', 'reward']) assert.equal(keyOf(a, 0, s), keyOf(b, 0, s), s);
  for (const s of ['finetune', 'evaluate']) assert.notEqual(keyOf(a, 0, s), keyOf(b, 0, s), s);
});

test('how a stage runs (queue, retries, timeout) is not part of its key', async () => {
  const a = await plan(PIPELINE);
  const b = await plan(
    PIPELINE.replace(
      '{ kind: reward, labels: label }',
      '{ kind: reward, labels: label, queue: cpu, timeout: 9h, retries: { maximum_attempts: 9 } }',
    ),
  );
  assert.equal(keyOf(a, 0, 'reward'), keyOf(b, 0, 'reward'));
  assert.equal(b.instances[keyOf(b, 0, 'reward')].queue, 'cpu');
  assert.equal(b.instances[keyOf(b, 0, 'reward')].timeouts.startToClose, '9h');
});

test('model content is part of the key: new weights change generate and below, not prompts', async () => {
  const a = await plan(PIPELINE);
  writeFileSync(join(work, 'model', 'weights.bin'), 'new weights');
  const b = await plan(PIPELINE);
  assert.equal(keyOf(a, 0, 'prompts'), keyOf(b, 0, 'prompts'));
  for (const s of ['generate', 'label', 'reward', 'finetune', 'evaluate'])
    assert.notEqual(keyOf(a, 0, s), keyOf(b, 0, s), s);
});

test('a random sweep is reproducible per seed, stays in range, and changes with the seed', async () => {
  const spec = (seed: number) =>
    PIPELINE +
    `sweep:
  method: random
  max_trials: 8
  seed: ${seed}
  parameters:
    stages.finetune.learning_rate: { distribution: log_uniform, min: 0.00001, max: 0.01 }
    stages.reward.lambda: { distribution: uniform, min: 0, max: 2 }
    stages.finetune.steps: { distribution: int, min: 10, max: 20 }
    stages.finetune.method: { distribution: choice, values: [lora, full] }
`;
  const a = await plan(spec(1));
  const b = await plan(spec(1));
  const c = await plan(spec(2));
  assert.equal(a.trials.length, 8);
  assert.deepEqual(
    a.trials.map((t) => t.assignment),
    b.trials.map((t) => t.assignment),
  );
  assert.notDeepEqual(
    a.trials.map((t) => t.assignment),
    c.trials.map((t) => t.assignment),
  );
  for (const t of a.trials) {
    const lr = t.assignment['stages.finetune.learning_rate'] as number;
    const steps = t.assignment['stages.finetune.steps'] as number;
    assert.ok(lr >= 0.00001 && lr <= 0.01);
    assert.ok(Number.isInteger(steps) && steps >= 10 && steps <= 20);
    assert.ok(['lora', 'full'].includes(t.assignment['stages.finetune.method'] as string));
    assert.equal(a.instances[t.stages.finetune].params.learning_rate, lr);
  }
});

test('rounds repeat the block, each round tuning from the previous round', async () => {
  const p = await plan(
    PIPELINE +
      `rounds:
  count: 3
  stages: [generate, label, reward, finetune]
  model_from: finetune
`,
  );
  const stages = p.trials[0].stages;
  assert.deepEqual(Object.keys(stages).sort(), [
    'evaluate',
    'finetune',
    'finetune@2',
    'finetune@3',
    'generate',
    'generate@2',
    'generate@3',
    'label',
    'label@2',
    'label@3',
    'prompts',
    'reward',
    'reward@2',
    'reward@3',
  ]);
  const inst = (s: string) => p.instances[stages[s]];
  assert.deepEqual(inst('generate@2').inputs.model, { stage: 'finetune', key: stages.finetune });
  assert.deepEqual(inst('finetune@3').inputs.model, { stage: 'finetune@2', key: stages['finetune@2'] });
  assert.deepEqual(inst('label@3').inputs.images, { stage: 'generate@3', key: stages['generate@3'] });
  assert.deepEqual(inst('generate').inputs.model, { model: 'base', contentHash: p.models.base.contentHash });
  assert.deepEqual(
    (inst('evaluate').inputs.models as { stage?: string }[]).map((r) => r.stage ?? 'base'),
    ['base', 'finetune@3'],
  );
  assert.equal(
    inst('prompts').key,
    inst('generate@3').inputs.prompts && (inst('generate@3').inputs.prompts as { key: string }).key,
  );
});

test('a missing model folder is a warning for validate but an error for plan', async () => {
  const file = join(work, 'missing.yaml');
  writeFileSync(file, PIPELINE.replace('path: model', 'path: nowhere'));
  const { plan: p, diagnostics } = await compileFile(file, { stateDir });
  assert.equal(p, undefined);
  assert.equal(diagnostics.length, 1);
  assert.match(diagnostics[0].message, /model folder 'nowhere' does not exist/);
  assert.equal(diagnostics[0].severity, undefined);
});
