// Hostile or careless specs: every one gets a diagnostic at file:line:col within a couple of
// seconds, never a stack trace or a hang (the hardening issue's list, one test each).
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { compileFile } from '../../src/spec/compile';
import { formatDiagnostic, isError, type Diagnostic } from '../../src/spec/diagnostics';
import { expandSweep } from '../../src/spec/sweep';
import { validateSpec } from '../../src/spec/validate';

const work = mkdtempSync(join(tmpdir(), 'alignrun-adversarial-'));
after(() => rmSync(work, { recursive: true, force: true }));
cpSync(resolve('test/fixtures/spec/model'), join(work, 'model'), { recursive: true });
cpSync(resolve('test/fixtures/spec/model'), join(work, 'model2'), { recursive: true });
writeFileSync(join(work, 'model2', 'extra.txt'), 'another model\n');

const HEAD = 'apiVersion: alignrun/v1\nmetadata: { name: t }\n';
const STAGES = 'stages:\n  prompts: { kind: prompts }\n';
const BOUND_MS = 3000;

let n = 0;
function write(text: string): string {
  const file = join(work, `spec${n++}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** Validates `text` within the time bound; returns the diagnostics, each one line. */
function validate(text: string): Diagnostic[] {
  const start = Date.now();
  const { diagnostics } = validateSpec(write(text));
  const ms = Date.now() - start;
  assert.ok(ms < BOUND_MS, `validate took ${ms} ms`);
  for (const d of diagnostics) assert.doesNotMatch(formatDiagnostic(d), /\n| {4}at /, formatDiagnostic(d));
  return diagnostics;
}

const only = (ds: Diagnostic[], pattern: RegExp) => {
  const errors = ds.filter(isError);
  assert.ok(errors.length >= 1, 'an error');
  assert.match(errors[0].message, pattern, formatDiagnostic(errors[0]));
  assert.ok(errors[0].line >= 1 && errors[0].col >= 1);
  return errors[0];
};

test('an alias bomb is one diagnostic at the first alias', () => {
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 12; i++)
    lines.push(
      `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(', ')}]`,
    );
  const d = only(validate(HEAD + lines.join('\n') + '\n' + STAGES), /aliases expand to too much data/);
  assert.equal(d.line, 4);
});

test('100,000 levels of nesting are refused, not a stack overflow', () => {
  only(validate(`${HEAD}${STAGES}x: ${'['.repeat(100_000)}${']'.repeat(100_000)}\n`), /nests too deeply/);
  // Nesting the parser survives, but deeper than any spec needs.
  only(validate(`${HEAD}${STAGES}x: ${'['.repeat(200)}${']'.repeat(200)}\n`), /nests more than 64 levels/);
});

test('a spec over 1 MiB is refused by size', () => {
  only(
    validate(`${HEAD}${STAGES}x: "${'a'.repeat(2 ** 21)}"\n`),
    /the spec is 2\.0 MiB; alignrun reads specs of up to 1 MiB/,
  );
});

test('a duplicate key after 60,000 keys is found (in linear time)', () => {
  const keys = Array.from({ length: 60_000 }, (_, i) => `  k${i}: ${i}\n`).join('');
  const d = only(validate(`${HEAD}${STAGES}extra:\n${keys}  k5: again\n`), /duplicate key/);
  assert.equal(d.line, 60_000 + 6);
});

test('40,000 unknown top-level keys list 50 and count the rest', () => {
  const ds = validate(HEAD + STAGES + Array.from({ length: 40_000 }, (_, i) => `u${i}: ${i}\n`).join(''));
  assert.equal(ds.length, 51);
  assert.match(ds[50].message, /^39950 more schema problem\(s\) after these, not listed$/);
});

test('a YAML merge key is refused by name', () => {
  const d = only(
    validate(`${HEAD}stages:\n  common: &c { kind: prompts }\n  p:\n    <<: *c\n`),
    /YAML merge keys \(<<\) are not supported/,
  );
  assert.deepEqual([d.line, d.col], [6, 5]);
});

const generateSpec = (sweep: string) =>
  `${HEAD}models:\n  base: { path: model }\n${STAGES}  generate: { kind: generate, model: base, prompts: prompts }\nsweep:\n${sweep}`;

test('a grid of 10^7 trials is refused at validate; with max_trials it plans the first N at once', async () => {
  const params =
    '  parameters:\n    stages.generate.images_per_prompt: { distribution: int, min: 1, max: 10000 }\n    stages.generate.seed: { distribution: int, min: 0, max: 999 }\n';
  only(validate(generateSpec(params)), /the grid has 10,000,000 trials, more than alignrun plans \(10,000\)/);
  const start = Date.now();
  const { plan, diagnostics } = await compileFile(write(generateSpec(`  max_trials: 10\n${params}`)), {
    stateDir: join(work, 'state'),
  });
  assert.deepEqual(diagnostics, []);
  assert.ok(Date.now() - start < BOUND_MS, `plan took ${Date.now() - start} ms`);
  // The first ten of the product, last parameter fastest.
  assert.deepEqual(
    plan!.trials.map((t) => [
      t.assignment['stages.generate.images_per_prompt'],
      t.assignment['stages.generate.seed'],
    ]),
    Array.from({ length: 10 }, (_, k) => [1, k]),
  );
});

test('the lazy grid is the cartesian product it replaces', () => {
  const trials = expandSweep({
    parameters: { 'a.x': [1, 2], 'a.y': ['p', 'q', 'r'], 'a.z': { values: [true] } },
  });
  assert.deepEqual(
    trials,
    [1, 2].flatMap((x) => ['p', 'q', 'r'].map((y) => ({ 'a.x': x, 'a.y': y, 'a.z': true }))),
  );
});

test('swept references are checked like references', () => {
  const d = only(
    validate(generateSpec('  parameters:\n    stages.generate.model: [base, nonexistent]\n')),
    /unknown model 'nonexistent'/,
  );
  assert.equal(d.path, 'sweep.parameters.stages.generate.model[1]');
});

test('a swept reference that closes a cycle is refused at validate, not a TypeError at plan', async () => {
  const text =
    `${HEAD}models:\n  base: { path: model }\n${STAGES}` +
    '  generate: { kind: generate, model: base, prompts: prompts }\n' +
    '  label: { kind: label, images: generate, source: { type: simulated } }\n' +
    '  finetune: { kind: finetune, model: base, labels: label }\n' +
    'sweep:\n  parameters:\n    stages.generate.model: [base, finetune]\n';
  const d = only(
    validate(text),
    /with stages\.generate\.model = 'finetune' the stage graph has a cycle: generate -> finetune -> label -> generate/,
  );
  assert.equal(d.path, 'sweep.parameters.stages.generate.model[1]');
  const { plan, diagnostics } = await compileFile(write(text), { stateDir: join(work, 'state') });
  assert.equal(plan, undefined);
  assert.equal(diagnostics.filter(isError).length, 1);
});

test('a sweep can list its trials; each value is checked like a swept one', async () => {
  const trials =
    '  trials:\n    - { stages.generate.images_per_prompt: 2, stages.generate.seed: 5 }\n    - { stages.generate.images_per_prompt: 3 }\n';
  const { plan, diagnostics } = await compileFile(write(generateSpec(trials)), {
    stateDir: join(work, 'state'),
  });
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(
    plan!.trials.map((t) => t.assignment),
    [
      { 'stages.generate.images_per_prompt': 2, 'stages.generate.seed': 5 },
      { 'stages.generate.images_per_prompt': 3 },
    ],
  );
  assert.equal(plan!.sweep!.method, 'list');
  const d = only(
    validate(
      generateSpec(
        '  trials:\n    - { stages.generate.images_per_prompt: 2 }\n    - { stages.generate.model: nonexistent }\n',
      ),
    ),
    /unknown model 'nonexistent'/,
  );
  assert.equal(d.path, 'sweep.trials[1].stages.generate.model');
  only(
    validate(generateSpec('  trials:\n    - { stages.generate.images_per_prompt: 0 }\n')),
    /value 0 is not valid for stages\.generate\.images_per_prompt: must be >= 1/,
  );
  only(
    validate(
      generateSpec(
        '  parameters: { stages.generate.seed: [1, 2] }\n  trials:\n    - { stages.generate.seed: 3 }\n',
      ),
    ),
    /a sweep has parameters or a list of trials, not both/,
  );
  only(validate(generateSpec('  max_parallel: 2\n')), /a sweep needs parameters or trials/);
});

test('settings of the whole run cannot be swept', () => {
  for (const path of ['tracking.experiment', 'metadata.name', 'sweep.max_parallel']) {
    const d = only(
      validate(generateSpec(`  parameters:\n    ${path}: [a, b]\n`)),
      new RegExp(
        `cannot sweep '${path.replace('.', '\\.')}': \\S+ is one setting for the whole run, not one per trial`,
      ),
    );
    assert.equal(d.path, `sweep.parameters.${path}`);
  }
});

test('a sweep over a model path plans one generate per model folder', async () => {
  const file = write(generateSpec('  parameters:\n    models.base.path: [model, model2]\n'));
  const { plan, diagnostics } = await compileFile(file, { stateDir: join(work, 'state') });
  assert.deepEqual(diagnostics, []);
  const generates = Object.values(plan!.instances).filter((i) => i.kind === 'generate');
  assert.equal(generates.length, 2);
  const paths = generates.map((g) => plan!.models[(g.inputs.model as { model: string }).model].path);
  assert.deepEqual(paths.sort(), [join(work, 'model'), join(work, 'model2')]);
  // The prompts stage does not depend on the model: one instance serves both trials.
  assert.equal(Object.values(plan!.instances).filter((i) => i.kind === 'prompts').length, 1);
});

test('an alias used before its anchor is named, not a stack trace', () => {
  const d = only(validate(`${HEAD}${STAGES}x: *a\ny: &a 1\n`), /alias '\*a' has no anchor '&a' before it/);
  assert.deepEqual([d.line, d.col], [5, 4]);
});
