// The paper's pipeline on the latent code path through Temporal and MLflow (real servers), as
// experiments/latent-smoke.yaml writes it: free-text prompts from a file -> generate on the tiny
// random SD-1.5-architecture fixture -> imported labels -> reward on a CLIP backbone -> LoRA
// fine-tuning in latent space with D_pre from an imagefolder -> evaluate -> MLflow.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { compileFile } from '../../src/spec/compile';
import { trialInput, workflowIdFor } from '../../src/runtime/slice';
import type { TrialResult } from '../../src/runtime/protocol';
import { startTestMlflow, type TestMlflow } from '../helpers/mlflow';
import { startTestStack, type TestStack } from '../helpers/temporal';

let ts: TestStack;
let mlflow: TestMlflow;
before(async () => {
  [ts, mlflow] = await Promise.all([startTestStack(), startTestMlflow()]);
});
after(() => Promise.all([ts?.stop(), mlflow?.stop()]));

test('experiments/latent-smoke.yaml runs end to end on the latent fixture and lands in MLflow', async () => {
  const { plan, diagnostics } = await compileFile('experiments/latent-smoke.yaml', { stateDir: ts.stateDir });
  assert.deepEqual(diagnostics, []);
  plan!.tracking = { experiment: 'alignrun-latent-smoke', uri: mlflow.url };
  const workflowId = workflowIdFor(plan!);
  const result: TrialResult = await ts.env.client.workflow.execute('experiment', {
    taskQueue: 'cpu',
    workflowId,
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
  assert.equal(result.stages.generate.metrics.images, 12);
  assert.equal(result.stages.label.metrics.complete, 12);
  assert.equal(result.stages.finetune.metrics.labelled, 12);
  const m = result.stages.evaluate.metrics;
  assert.equal(m['base.prompts.images'], 6, JSON.stringify(m));
  for (const k of ['base.prompts.mean_reward', 'finetune.prompts.mean_reward', 'reward_win_rate_prompts'])
    assert.ok(Number.isFinite(m[k]), `${k} = ${m[k]}`);
  // No shapes-judge figures for free-text prompts.
  assert.equal(m['base.prompts.alignment'], undefined);

  await ts.workers.tracking.flush(60_000);
  const run = await mlflow.python<{ metrics: Record<string, number>; artifacts: string[] }>(`
exp = MlflowClient().get_experiment_by_name("alignrun-latent-smoke")
[r] = MlflowClient().search_runs([exp.experiment_id])
arts = [a.path for a in MlflowClient().list_artifacts(r.info.run_id, "finetune")]
print(json.dumps({"metrics": r.data.metrics, "artifacts": arts}))`);
  assert.ok(
    Number.isFinite(run.metrics['evaluate.finetune.prompts.mean_reward']),
    JSON.stringify(run.metrics),
  );
  assert.ok(run.artifacts.includes('finetune/pytorch_lora_weights.safetensors'), run.artifacts.join(', '));
});
