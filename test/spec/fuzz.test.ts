// Property test of the spec front end: mutations of every shipped spec and random YAML documents,
// from a fixed seed and budget. Whatever the input, validate (and plan, for what validates)
// returns diagnostics with positions, never throws, and answers within a time bound.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { compileSpec } from '../../src/spec/compile';
import { formatDiagnostic } from '../../src/spec/diagnostics';
import { validateSpec } from '../../src/spec/validate';
import { createRng, type Rng } from '../../src/util/rng';

const SEED = 32;
const MUTATIONS_PER_SPEC = 40;
const RANDOM_DOCUMENTS = 150;
const BOUND_MS = 2000;
const TOKENS = [
  ':',
  ' ',
  '-',
  '[',
  ']',
  '{',
  '}',
  ',',
  '&a',
  '*a',
  '<<: *a',
  '\t',
  '"',
  "'",
  '#',
  '!!str',
  '|',
  '>',
  '?',
  '~',
  'null',
  '1e309',
  '-1',
  '0x1F',
  'true',
  '@',
  '%',
  '\\',
  '\u00e9',
  '\u0000',
];
const SCALARS = [
  '0',
  '-1',
  '1.5',
  '1e309',
  'null',
  'true',
  '"x"',
  '[]',
  '{}',
  '[a, b]',
  '*a',
  'ddim',
  'base',
  'generate',
  'nonexistent',
  '../x',
  '/',
];

function mutate(text: string, rng: Rng): string {
  const lines = text.split('\n');
  const i = rng.int(lines.length);
  switch (rng.int(7)) {
    case 0:
      lines.splice(i, 1);
      break;
    case 1:
      lines.splice(i, 0, lines[rng.int(lines.length)]);
      break;
    case 2: {
      const j = rng.int(lines.length);
      [lines[i], lines[j]] = [lines[j], lines[i]];
      break;
    }
    case 3: {
      const at = rng.int(lines[i].length + 1);
      lines[i] = lines[i].slice(0, at) + rng.pick(TOKENS) + lines[i].slice(at);
      break;
    }
    case 4: {
      const colon = lines[i].indexOf(': ');
      if (colon >= 0) lines[i] = `${lines[i].slice(0, colon + 2)}${rng.pick(SCALARS)}`;
      break;
    }
    case 5:
      lines[i] = rng.next() < 0.5 ? ` ${lines[i]}` : lines[i].replace(/^ /, '');
      break;
    default:
      lines[i] = lines[i].slice(0, rng.int(lines[i].length + 1));
  }
  return lines.join('\n');
}

function randomDocument(rng: Rng, depth = 0): string {
  const indent = '  '.repeat(depth);
  const n = 1 + rng.int(4);
  const keys = [
    'apiVersion',
    'metadata',
    'models',
    'stages',
    'sweep',
    'kind',
    'name',
    'path',
    'model',
    'prompts',
    'parameters',
    'x',
  ];
  return Array.from({ length: n }, () => {
    const key = rng.pick(keys);
    if (depth < 4 && rng.next() < 0.4) return `${indent}${key}:\n${randomDocument(rng, depth + 1)}`;
    if (rng.next() < 0.2) return `${indent}- ${rng.pick(SCALARS)}`;
    return `${indent}${key}: ${rng.pick(SCALARS)}${rng.next() < 0.1 ? rng.pick(TOKENS) : ''}`;
  }).join('\n');
}

const stateDir = mkdtempSync(join(tmpdir(), 'alignrun-fuzz-'));
after(() => rmSync(stateDir, { recursive: true, force: true }));

/** Inputs that validated and went on to planning. */
let planned = 0;

async function check(label: string, text: string): Promise<void> {
  const start = Date.now();
  let result;
  try {
    result = validateSpec(join('experiments', 'fuzz.yaml'), text);
    if (result.result) {
      planned++;
      await compileSpec(result.result, { stateDir }).catch(planError);
    }
  } catch (e) {
    assert.fail(`${label}: validate threw ${(e as Error).stack}\n--- input ---\n${text}`);
  }
  const ms = Date.now() - start;
  assert.ok(ms < BOUND_MS, `${label}: took ${ms} ms\n--- input ---\n${text}`);
  for (const d of result.diagnostics) {
    const line = formatDiagnostic(d);
    assert.ok(d.line >= 1 && d.col >= 1, `${label}: a diagnostic without a position: ${line}`);
    assert.doesNotMatch(line, /\n| {4}at |TypeError|undefined/, `${label}: ${line}`);
  }
}

/** Planning may meet a model folder that does not exist here: that is a sentence, not a crash. */
function planError(e: Error): void {
  if (!/ENOENT|no such file/.test(e.message)) throw e;
}

test('mutated shipped specs never crash or hang the front end', async () => {
  const rng = createRng(SEED);
  const specs = readdirSync('experiments').filter((f) => f.endsWith('.yaml'));
  assert.ok(specs.length >= 10);
  for (const file of specs) {
    const text = readFileSync(join('experiments', file), 'utf8');
    for (let k = 0; k < MUTATIONS_PER_SPEC; k++) {
      let t = text;
      for (let m = 1 + rng.int(3); m > 0; m--) t = mutate(t, rng);
      await check(`${file} mutation ${k}`, t);
    }
  }
  // Many mutations (a changed number, a moved comment) still validate: planning is exercised too.
  assert.ok(planned > 50, `only ${planned} mutated specs reached planning`);
});

test('random YAML documents never crash or hang the front end', async () => {
  const rng = createRng(SEED + 1);
  for (let k = 0; k < RANDOM_DOCUMENTS; k++) await check(`document ${k}`, randomDocument(rng));
});
