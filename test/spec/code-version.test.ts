// Cache keys follow the code: a stage kind's version hashes the source files its implementation
// loads, so editing one stage's code reruns that stage (and what depends on it) while the others
// stay cached.
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { describePlan } from '../../src/cli/plan';
import { StageCache } from '../../src/artifacts/cache';
import { moduleClosure, stageCodeVersions } from '../../src/spec/code-version';
import { compileFile } from '../../src/spec/compile';
import type { Plan, StageKind } from '../../src/spec/plan';
import { stageVersions } from '../../src/spec/stages';

const KINDS: StageKind[] = ['prompts', 'generate', 'label', 'reward', 'finetune', 'evaluate', 'pretrain'];
const work = mkdtempSync(join(tmpdir(), 'alignrun-code-version-'));
after(() => rmSync(work, { recursive: true, force: true }));

// A copy of the sources to edit, with this checkout's packages.
const tree = join(work, 'tree');
for (const dir of ['src', 'workflows', 'schemas']) cpSync(resolve(dir), join(tree, dir), { recursive: true });
symlinkSync(resolve('node_modules'), join(tree, 'node_modules'));

test("a stage kind's version covers its imports and worker entries, not type-only imports", () => {
  const { files, packages } = moduleClosure(resolve('src/stages/generate.ts'));
  const rel = files.map((f) => f.slice(resolve('.').length + 1));
  assert.ok(rel.includes('src/model/pipeline.ts'), 'a transitive import');
  assert.ok(rel.includes('src/model/sessionWorker.ts'), 'the worker thread entry named by URL');
  assert.ok(!rel.includes('src/runtime/stage.ts'), 'StageImplementation is a type-only import');
  assert.ok(packages.includes('onnxruntime-node'));
  const versions = stageVersions();
  for (const kind of KINDS) assert.match(versions[kind], /^[0-9a-f]{12}$/, kind);
  assert.equal(new Set(Object.values(versions)).size, KINDS.length, 'every kind has its own code');
});

test('editing the reward code changes the reward version only; the plan reruns reward and what follows', async () => {
  const before = stageCodeVersions(tree, KINDS);
  assert.deepEqual(before, stageVersions(), 'the copy has the same versions as the checkout');
  appendFileSync(join(tree, 'src/reward/train.ts'), '\n// a change to the reward training loop\n');
  const afterEdit = stageCodeVersions(tree, KINDS);
  assert.notEqual(afterEdit.reward, before.reward);
  for (const kind of ['prompts', 'generate', 'label', 'pretrain'] as const)
    assert.equal(afterEdit[kind], before[kind], `${kind} does not load src/reward/train.ts`);

  cpSync(resolve('test/fixtures/spec/model'), join(work, 'model'), { recursive: true });
  const spec = join(work, 'spec.yaml');
  writeFileSync(
    spec,
    `apiVersion: alignrun/v1
metadata: { name: t, seed: 1 }
models:
  base: { path: model }
stages:
  prompts: { kind: prompts, per_category: 4 }
  generate: { kind: generate, model: base, prompts: prompts }
  label: { kind: label, images: generate, source: { type: simulated } }
  reward: { kind: reward, labels: label }
`,
  );
  const stateDir = join(work, 'state');
  const plan = async (versions: Record<StageKind, string>): Promise<Plan> => {
    const { plan, diagnostics } = await compileFile(spec, { stateDir, stageVersions: versions });
    assert.deepEqual(diagnostics, []);
    return plan!;
  };
  // Every stage of the old code finished and is cached.
  const old = await plan(before);
  const cache = new StageCache(join(stateDir, 'cache'));
  for (const key of old.order)
    await cache.record({ key, artifacts: {}, metrics: {}, finishedAt: '2026-12-01T00:00:00.000Z' });
  assert.equal((await plan(before)).planHash, old.planHash, 'unchanged code, unchanged plan');

  const edited = await plan(afterEdit);
  const state = Object.fromEntries(
    describePlan(edited, stateDir)
      .split('\n')
      .slice(3)
      .map((row) => {
        const cells = row.trim().split(/\s{2,}/);
        return [cells[0], cells[5]];
      }),
  );
  assert.deepEqual(state, { prompts: 'cached', generate: 'cached', label: 'cached', reward: 'will run' });
  const reward = Object.values(edited.instances).find((i) => i.kind === 'reward')!;
  assert.match(describePlan(edited, stateDir), new RegExp(`reward\\s+reward\\s+gpu\\s+${reward.version}\\s`));
});
