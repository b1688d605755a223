// The prompts and generate stages run for real through Temporal: a compiled spec, the experiment
// workflow on a dev server, workers on both queues, the tiny model on onnxruntime.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { openArtifacts } from '../../src/artifacts/index';
import { compileFile } from '../../src/spec/compile';
import { trialInput } from '../../src/runtime/slice';
import type { TrialResult } from '../../src/runtime/protocol';
import { startTestStack, type TestStack } from '../helpers/temporal';

let ts: TestStack;
before(async () => {
  ts = await startTestStack();
});
after(() => ts?.stop());

test('prompts -> generate on the tiny model produces one PNG per prompt and image', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'alignrun-stages-'));
  const spec = join(dir, 'spec.yaml');
  writeFileSync(
    spec,
    `apiVersion: alignrun/v1
metadata: { name: stages_smoke, seed: 3 }
models:
  base: { path: ${resolve('models/tiny-random')} }
stages:
  prompts: { kind: prompts, categories: [color, count], per_category: 2 }
  generate:
    kind: generate
    model: base
    prompts: prompts
    images_per_prompt: 2
    sampler: { scheduler: euler, steps: 3, guidance_scale: 3, batch_size: 4 }
`,
  );
  const { plan, diagnostics } = await compileFile(spec, { stateDir: ts.stateDir });
  assert.deepEqual(diagnostics, []);
  const result: TrialResult = await ts.env.client.workflow.execute('experiment', {
    taskQueue: 'cpu',
    workflowId: `stages-smoke-${plan!.planHash.slice(0, 8)}`,
    args: [trialInput(plan!, 't0')],
  });
  assert.equal(result.stages.prompts.metrics.prompts, 4);
  assert.equal(result.stages.generate.metrics.images, 8);
  const { store } = openArtifacts(ts.stateDir);
  const out = join(dir, 'images');
  await store.getDir(result.stages.generate.artifacts.images, out);
  const manifest = readFileSync(join(out, 'manifest.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(manifest.length, 8);
  const png = readFileSync(join(out, manifest[0].png));
  assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // 'PNG'
});
