// The CLI as a user runs it: a child process, exit codes, and what it prints.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const bin = resolve('bin/alignrun.js');
const alignrun = (args: string[], cwd = process.cwd()) => {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, ALIGNRUN_STATE: join(work, 'state') },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const work = mkdtempSync(join(tmpdir(), 'alignrun-cli-'));
cpSync(resolve('test/fixtures/spec/model'), join(work, 'model'), { recursive: true });

test('validate prints file:line:col: message for each problem, exits 1, no stack trace', () => {
  const bad = join(work, 'bad.yaml');
  writeFileSync(
    bad,
    'apiVersion: alignrun/v1\nmetadata: { name: x }\nstages:\n  a: { kind: prompts, per_category: -2 }\n  b: { kind: rewrd }\n',
  );
  const r = alignrun(['validate', 'bad.yaml'], work);
  assert.equal(r.code, 1);
  assert.equal(
    r.err.trim(),
    [
      'bad.yaml:4:37: stages.a.per_category: must be >= 1 (got -2)',
      "bad.yaml:5:14: stages.b.kind: unknown stage kind 'rewrd'; must be one of prompts, generate, label, reward, finetune, evaluate, pretrain (did you mean 'reward'?)",
    ].join('\n'),
  );
  assert.doesNotMatch(r.err, /\n\s+at /);
});

test('validate of a missing file is one sentence', () => {
  const r = alignrun(['validate', 'nope.yaml'], work);
  assert.equal(r.code, 1);
  assert.equal(r.err.trim(), 'nope.yaml:1:1: cannot read spec: file not found');
});

test('validate exits 0 and says ok for a good spec', () => {
  const r = alignrun(['validate', 'experiments/human-labels.yaml']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /experiments\/human-labels.yaml: ok/);
});

test('plan prints the DAG, trial count, shared instances and cache state', () => {
  const spec = join(work, 'sweep.yaml');
  writeFileSync(
    spec,
    `apiVersion: alignrun/v1
metadata: { name: demo }
models: { base: { path: model } }
stages:
  prompts: { kind: prompts }
  generate: { kind: generate, model: base, prompts: prompts }
  label: { kind: label, images: generate, source: { type: simulated } }
  reward: { kind: reward, labels: label }
sweep:
  parameters:
    stages.reward.lambda: [0, 1]
`,
  );
  const r = alignrun(['plan', 'sweep.yaml'], work);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.out,
    /^experiment demo {2}plan [0-9a-f]{12} {2}2 trials, 5 stage instances, 0 cached, 5 to run$/m,
  );
  assert.match(r.out, /shared between trials: prompts \(2\), generate \(2\), label \(2\)/);
  assert.match(r.out, /t1 +stages\.reward\.lambda=1/);
  const json = alignrun(['plan', 'sweep.yaml', '--json'], work);
  const plan = JSON.parse(json.out);
  assert.equal(plan.trials.length, 2);
  assert.equal(Object.keys(plan.instances).length, 5);
});

test('unknown command and no arguments print usage, exit 2', () => {
  assert.equal(alignrun(['frobnicate']).code, 2);
  const r = alignrun([]);
  assert.equal(r.code, 2);
  assert.match(r.out, /usage: alignrun <command>/);
});

test('--set overrides a field like the file would, and a bad override is reported against itself', () => {
  const spec = join(work, 'set.yaml');
  writeFileSync(
    spec,
    'apiVersion: alignrun/v1\nmetadata: { name: s }\nmodels:\n  base: { path: model }\nstages:\n  prompts: { kind: prompts, per_category: 4 }\n  generate: { kind: generate, model: base, prompts: prompts }\n',
  );
  const plan = (...set: string[]) =>
    JSON.parse(alignrun(['plan', 'set.yaml', '--json', ...set.flatMap((s) => ['--set', s])], work).out);
  const base = plan();
  const changed = plan('stages.generate.images_per_prompt=3', 'stages.generate.sampler={steps: 5}');
  const gen = (p: { instances: Record<string, { kind: string; params: Record<string, any> }> }) =>
    Object.values(p.instances).find((i) => i.kind === 'generate')!.params;
  assert.equal(gen(changed).images_per_prompt, 3);
  assert.equal(gen(changed).sampler.steps, 5);
  assert.equal(gen(changed).sampler.scheduler, gen(base).sampler.scheduler, 'defaults still fill in');
  assert.notEqual(changed.planHash, base.planHash);

  const bad = alignrun(
    [
      'validate',
      'set.yaml',
      '--set',
      'stages.generate.images_per_prompt=-1',
      '--set',
      'stages.generate.modell=base',
    ],
    work,
  );
  assert.equal(bad.code, 1);
  assert.equal(
    bad.err.trim(),
    [
      '--set stages.generate.images_per_prompt=-1:1:35: stages.generate.images_per_prompt: must be >= 1 (got -1)',
      "--set stages.generate.modell=base:1:1: stages.generate.modell: unknown field 'modell' (did you mean 'model'?)",
    ].join('\n'),
  );
  const syntax = alignrun(['validate', 'set.yaml', '--set', 'stages.generate'], work);
  assert.match(
    syntax.err,
    /^--set stages\.generate:1:1: an override is PATH=VALUE with a dotted path into the spec \(e\.g\. --set stages\.reward\.lambda=0\.3\)\n$/,
  );
  const yaml = alignrun(['validate', 'set.yaml', '--set', 'stages.generate.sampler={steps: 5'], work);
  assert.match(yaml.err, /^--set stages\.generate\.sampler=\{steps: 5:1:\d+: YAML error: a flow mapping/);
});
