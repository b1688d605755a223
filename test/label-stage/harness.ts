// What the human-label tests share: a dev server with workers, compiling and starting a spec whose
// label stage reads the tiny model's images, and waiting for its task to appear in the label store.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { openArtifacts } from '../../src/artifacts/index';
import type { LabelStore } from '../../src/labels/store';
import type { TaskInfo } from '../../src/labels/types';
import { WorkerSet } from '../../src/runtime/workers';
import { compileFile } from '../../src/spec/compile';
import type { LabelRecord } from '../../src/stages/examples';
import { labelingWorkflowId } from '../../src/labels/protocol';
import { trialInput } from '../../src/runtime/slice';
import type { TrialResult } from '../../src/runtime/protocol';
import { startTestServer, type TestServer } from '../helpers/temporal';

export interface Harness {
  ts: TestServer;
  stop(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const ts = await startTestServer();
  const workers = await WorkerSet.create({ connection: ts.env.nativeConnection, stateDir: ts.stateDir });
  const running = workers.run();
  return {
    ts,
    async stop() {
      workers.shutdown();
      await running;
      await ts.stop();
    },
  };
}

/** 5 colour prompts x 2 images = 10 images, then `label` (YAML lines indented by 4), if any. */
export const spec = (label?: string) => `apiVersion: alignrun/v1
metadata: { name: label_human, seed: 9 }
models:
  base: { path: ${resolve('models/tiny-random')} }
stages:
  prompts: { kind: prompts, categories: [color], per_category: 5 }
  generate:
    kind: generate
    model: base
    prompts: prompts
    images_per_prompt: 2
    sampler: { scheduler: euler, steps: 4, guidance_scale: 3, batch_size: 10 }
${label ? `  label:\n${label}\n` : ''}`;

export interface Started {
  handle: WorkflowHandle;
  /** The label task's id (= its labelling workflow's id). */
  task: string;
}

export async function startSpec(h: Harness, text: string, id: string): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'alignrun-label-human-'));
  const file = join(dir, 'spec.yaml');
  writeFileSync(file, text);
  const { plan, diagnostics } = await compileFile(file, { stateDir: h.ts.stateDir });
  assert.deepEqual(diagnostics, []);
  const handle = await h.ts.env.client.workflow.start('experiment', {
    taskQueue: 'cpu',
    workflowId: `${id}-${plan!.planHash.slice(0, 8)}`,
    args: [trialInput(plan!, 't0')],
  });
  const key = plan!.trials[0].stages.label;
  return { handle, task: key ? labelingWorkflowId(key) : '' };
}

/** Waits (polling the store) until the label stage has published its task. */
export async function publishedTask(store: LabelStore, task: string, run: Started): Promise<TaskInfo> {
  let settled = false;
  run.handle.result().then(
    () => (settled = true),
    () => (settled = true),
  );
  for (;;) {
    const t = store.getTask(task);
    if (t) return t;
    if (settled) throw new Error(`The experiment ended before task ${task} was published.`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function readLabels(h: Harness, result: TrialResult): Promise<LabelRecord[]> {
  const { store } = openArtifacts(h.ts.stateDir);
  return (await store.get(result.stages.label.artifacts.labels))
    .toString('utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LabelRecord);
}
