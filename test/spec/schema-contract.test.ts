// The schema is the contract: every field and enum value it accepts is read by the code that
// implements it (or refused by the semantic checks, which then name it). A field or value the
// schema gains without an implementation, like `early_stop.method: asha` once, fails here.
//
// "Read by the code" is checked on the source text: each field's name appears as a word, and each
// enum value as a string literal, in the files the implementing module loads (moduleClosure, as
// for cache keys). That is a necessary condition, not a proof, and cheap enough to hold always.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { moduleClosure, stageEntries } from '../../src/spec/code-version';
import type { StageKind } from '../../src/spec/plan';

interface Node {
  $ref?: string;
  properties?: Record<string, Node>;
  items?: Node;
  oneOf?: Node[];
  anyOf?: Node[];
  allOf?: Node[];
  enum?: unknown[];
  additionalProperties?: Node | boolean;
}
const schema = JSON.parse(readFileSync(resolve('schemas/experiment.schema.json'), 'utf8')) as Node & {
  $defs: Record<string, Node>;
};
const KINDS: StageKind[] = ['prompts', 'generate', 'label', 'reward', 'finetune', 'evaluate', 'pretrain'];
/** Fields that only document (no behaviour to implement). */
const DOCUMENTATION = new Set(['description']);

interface Contract {
  fields: string[];
  values: [path: string, value: string][];
}

/** Every property (dotted path) and enum value under `node`, not descending into `skip` refs. */
function contract(
  node: Node,
  path: string,
  skip: Set<string>,
  out: Contract = { fields: [], values: [] },
): Contract {
  if (node.$ref && !skip.has(node.$ref)) contract(schema.$defs[node.$ref.split('/').pop()!], path, skip, out);
  for (const alt of [...(node.oneOf ?? []), ...(node.anyOf ?? []), ...(node.allOf ?? [])])
    contract(alt, path, skip, out);
  if (node.items) contract(node.items, `${path}[]`, skip, out);
  if (node.additionalProperties && typeof node.additionalProperties === 'object')
    contract(node.additionalProperties, `${path}.*`, skip, out);
  for (const v of node.enum ?? []) out.values.push([path, String(v)]);
  for (const [k, sub] of Object.entries(node.properties ?? {})) {
    if (DOCUMENTATION.has(k)) continue;
    out.fields.push(path ? `${path}.${k}` : k);
    contract(sub, path ? `${path}.${k}` : k, skip, out);
  }
  return out;
}

/** The source text of the files `entries` load, without type declarations. */
function code(entries: string[]): string {
  const files = new Set(entries.flatMap((e) => moduleClosure(resolve(e)).files));
  return [...files].map((f) => withoutTypes(readFileSync(f, 'utf8'))).join('\n');
}

/**
 * `text` without `interface` and `type` declarations: a value that is only spelled in a type
 * (`method: 'median' | 'asha'`) is declared, not implemented.
 */
export function withoutTypes(text: string): string {
  let out = '';
  const decl = /(?:^|\n)\s*(?:export\s+)?(?:declare\s+)?(interface|type)\s+\w+[^={;]*([={])/g;
  let at = 0;
  for (let m = decl.exec(text); m; m = decl.exec(text)) {
    if (m.index < at) continue;
    out += text.slice(at, m.index);
    // Skip to the end of the declaration: the closing brace of an interface, or the `;` (or the
    // end of line outside brackets) of a type alias.
    let depth = 0;
    let i = m.index + m[0].length - (m[2] === '{' ? 1 : 0);
    for (; i < text.length; i++) {
      const ch = text[i];
      if ('{[(<'.includes(ch)) depth++;
      else if ('}])>'.includes(ch)) {
        depth--;
        if (depth === 0 && m[1] === 'interface') break;
      } else if (
        depth === 0 &&
        m[1] === 'type' &&
        (ch === ';' ||
          (ch === '\n' && !/[|&=,]\s*$/.test(text.slice(m.index, i)) && !/^\s*[|&]/.test(text.slice(i + 1))))
      )
        break;
    }
    at = i + 1;
    decl.lastIndex = at;
  }
  return out + text.slice(at);
}

/** The fields and values of `c` that `text` never mentions. */
function unimplemented(c: Contract, text: string): string[] {
  const missing: string[] = [];
  for (const f of c.fields) {
    const name = f.split('.').pop()!.replace('[]', '');
    if (!new RegExp(`\\b${name}\\b`).test(text)) missing.push(`field ${f}`);
  }
  for (const [p, v] of c.values)
    if (!text.includes(`'${v}'`) && !text.includes(`"${v}"`)) missing.push(`${p}: ${v}`);
  return missing;
}

const COMMON = '#/$defs/stage_common';

for (const kind of KINDS) {
  test(`every field and value of a ${kind} stage is read by its code (${stageEntries(kind).join(', ')}) or what it loads`, () => {
    const c = contract(schema.$defs[`${kind}_stage`], kind, new Set([COMMON]));
    c.fields = c.fields.filter((f) => f !== `${kind}.kind`);
    assert.ok(c.fields.length > 0);
    assert.deepEqual(unimplemented(c, code(stageEntries(kind))), []);
  });
}

const RUNTIME = [
  'src/spec/compile.ts',
  'src/stages/generate.ts',
  'src/tracking/run-tracking.ts',
  'workflows/index.ts',
];

test('the settings every stage has, the models, rounds, tracking and sweep are read by the compiler and runtime', () => {
  const runtime = code(RUNTIME);
  const top = contract(schema, '', new Set(['#/$defs/stage']));
  const common = contract(schema.$defs.stage_common, 'stages.*', new Set());
  assert.deepEqual(unimplemented(top, runtime), []);
  assert.deepEqual(unimplemented(common, runtime), []);
});

test('the check itself catches an enum value nothing implements, also when a type spells it', () => {
  const c = contract({ properties: { method: { enum: ['median', 'asha'] } } }, 'early_stop', new Set());
  const text = withoutTypes(
    "export interface EarlyStop {\n  method: 'median' | 'asha';\n}\ntype M =\n  | 'median'\n  | 'asha';\nconst rule = { method: 'median' };\n",
  );
  assert.deepEqual(unimplemented(c, text), ['early_stop.method: asha']);
  assert.match(text, /const rule = \{ method: 'median' \};/, 'code after the declarations is kept');
  assert.deepEqual(unimplemented(c, code(RUNTIME)), ['early_stop.method: asha'], 'not in the runtime');
});
