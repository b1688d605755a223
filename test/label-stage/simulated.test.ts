// prompts -> generate (tiny model) -> label with simulated raters, through the experiment workflow
// on a real dev server: one aggregated label per image, each rater's answer kept, agreement reported.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { openArtifacts } from '../../src/artifacts/index';
import { compileFile } from '../../src/spec/compile';
import type { LabelRecord } from '../../src/stages/examples';
import { trialInput } from '../../src/runtime/slice';
import type { TrialResult } from '../../src/runtime/protocol';
import { startTestStack, type TestStack } from '../helpers/temporal';

let ts: TestStack;
before(async () => {
  ts = await startTestStack();
});
after(() => ts?.stop());

const spec = (labelStage: string) => `apiVersion: alignrun/v1
metadata: { name: label_sim, seed: 5 }
models:
  base: { path: ${resolve('models/tiny-random')} }
stages:
  prompts: { kind: prompts, categories: [color, count], per_category: 3 }
  generate:
    kind: generate
    model: base
    prompts: prompts
    images_per_prompt: 2
    sampler: { scheduler: euler, steps: 4, guidance_scale: 3, batch_size: 6 }
  label:
${labelStage}
`;

async function runSpec(text: string, id: string): Promise<TrialResult> {
  const dir = mkdtempSync(join(tmpdir(), 'alignrun-label-sim-'));
  const file = join(dir, 'spec.yaml');
  writeFileSync(file, text);
  const { plan, diagnostics } = await compileFile(file, { stateDir: ts.stateDir });
  assert.deepEqual(diagnostics, []);
  return ts.env.client.workflow.execute('experiment', {
    taskQueue: 'cpu',
    workflowId: `${id}-${plan!.planHash.slice(0, 8)}`,
    args: [trialInput(plan!, 't0')],
  });
}

async function readLabels(result: TrialResult): Promise<LabelRecord[]> {
  const { store } = openArtifacts(ts.stateDir);
  return (await store.get(result.stages.label.artifacts.labels))
    .toString('utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as LabelRecord);
}

test('3 simulated raters, quorum 2: one aggregated label per image, kappa reported', async () => {
  const result = await runSpec(
    spec(`    kind: label
    images: generate
    quorum: 2
    aggregation: majority
    source: { type: simulated, raters: 3, noise: 0.2 }`),
    'label-sim',
  );
  const label = result.stages.label;
  const gen = result.stages.generate;
  assert.equal(gen.metrics.images, 12);
  // The images and prompts pass through unchanged, for the reward and finetune stages.
  assert.deepEqual(label.artifacts.images, gen.artifacts.images);
  assert.deepEqual(label.artifacts.prompts, gen.artifacts.prompts);

  const records = await readLabels(result);
  assert.equal(records.length, 12);
  assert.equal(new Set(records.map((r) => r.image)).size, 12, 'one line per image');
  for (const r of records) {
    assert.deepEqual(Object.keys(r.raters).sort(), ['sim-1', 'sim-2', 'sim-3']);
    const good = Object.values(r.raters).filter((v) => v === 'good').length;
    const bad = Object.values(r.raters).filter((v) => v === 'bad').length;
    assert.equal(good + bad, 3, 'shapes prompts are always understood, so nobody skips');
    assert.equal(r.label, good > bad ? 1 : 0, `majority of ${JSON.stringify(r.raters)}`);
    assert.equal(r.quorum, true);
    assert.match(r.png, /^images\/.+\.png$/);
    assert.match(r.tensor, /^tensors\/.+\.f32$/);
    assert.ok(['color', 'count'].includes(r.category!));
    assert.ok(r.prompt.length > 0 && r.promptId.length > 0);
  }
  const m = label.metrics;
  assert.equal(m.labelled, 12);
  assert.equal(m.complete, 12);
  assert.equal(m.raters, 3);
  assert.equal(m.positive_rate, records.filter((r) => r.label === 1).length / 12);
  assert.equal(typeof m.kappa, 'number');
  assert.ok(m.kappa >= -1 && m.kappa <= 1, `kappa ${m.kappa}`);
  assert.equal(m.agreement, m.kappa);

  // The same stage seed gives the same answers; mean aggregation reports the share of good.
  const again = await runSpec(
    spec(`    kind: label
    images: generate
    quorum: 2
    aggregation: mean
    source: { type: simulated, raters: 3, noise: 0.2 }`),
    'label-sim-mean',
  );
  const mean = await readLabels(again);
  assert.deepEqual(
    mean.map((r) => r.raters),
    records.map((r) => r.raters),
  );
  for (const r of mean) assert.equal(r.label, r.good / (r.good + r.bad));
});
