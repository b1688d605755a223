// The paper's whole pipeline through Temporal, on the tiny model, at toy sizes: prompts ->
// generate -> label (simulated) -> reward (auxiliary loss) -> finetune -> evaluate.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { compileFile } from '../../src/spec/compile';
import { trialInput } from '../../src/runtime/slice';
import type { TrialResult } from '../../src/runtime/protocol';
import { startTestStack, type TestStack } from '../helpers/temporal';

let ts: TestStack;
before(async () => {
  ts = await startTestStack();
});
after(() => ts?.stop());

test('the full pipeline runs end to end and reports alignment for base and tuned models', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'alignrun-pipeline-'));
  const spec = join(dir, 'spec.yaml');
  writeFileSync(
    spec,
    `apiVersion: alignrun/v1
metadata: { name: pipeline_smoke, seed: 5 }
models:
  base: { path: ${resolve('models/tiny')} }
stages:
  prompts: { kind: prompts, per_category: 3, split: all }
  generate:
    kind: generate
    model: base
    prompts: prompts
    images_per_prompt: 2
    sampler: { steps: 3, batch_size: 8 }
  label: { kind: label, images: generate, source: { type: simulated, raters: 3, noise: 0.1 }, quorum: 2 }
  reward: { kind: reward, labels: label, epochs: 2, batch_size: 8, test_split: unseen }
  finetune: { kind: finetune, model: base, labels: label, reward: reward, steps: 3, batch_size: 4, pretrain_data: { size: 16 } }
  evaluate:
    kind: evaluate
    models: [base, finetune]
    reward: reward
    prompts: prompts
    per_category: 1
    seeds: [0]
    sampler: { steps: 3 }
`,
  );
  const { plan, diagnostics } = await compileFile(spec, { stateDir: ts.stateDir });
  assert.deepEqual(diagnostics, []);
  const result: TrialResult = await ts.env.client.workflow.execute('experiment', {
    taskQueue: 'cpu',
    workflowId: `pipeline-smoke-${plan!.planHash.slice(0, 8)}`,
    args: [trialInput(plan!, 't0')],
  });
  assert.deepEqual(Object.keys(result.stages).sort(), [
    'evaluate',
    'finetune',
    'generate',
    'label',
    'prompts',
    'reward',
  ]);
  assert.equal(result.stages.generate.metrics.images, 24);
  assert.ok(result.stages.reward.artifacts.reward);
  // Unseen prompts' labels are held out of reward training and scored as the test set.
  const r = result.stages.reward.metrics;
  assert.ok(r.test_examples > 0 && r.examples > 0, JSON.stringify(r));
  assert.equal(r.examples + r.test_examples, 24);
  assert.ok(r.test_accuracy >= 0 && r.test_accuracy <= 1, JSON.stringify(r));
  assert.ok(result.stages.finetune.artifacts.model);
  const m = result.stages.evaluate.metrics;
  // The prompts stage's 12 prompts (both splits), one seed each, instead of per_category draws.
  assert.equal(m['base.seen.images'] + m['base.unseen.images'], 12, JSON.stringify(m));
  for (const k of [
    'base.seen.alignment',
    'finetune.seen.alignment',
    'base.unseen.alignment',
    'finetune.unseen.well_formed',
    'finetune.seen.malformed.no_object',
    'base.unseen.malformed.colour_mix',
  ]) {
    assert.equal(typeof m[k], 'number', k);
    assert.ok(m[k] >= 0 && m[k] <= 1, `${k} = ${m[k]}`);
  }
});
