// Derives src/spec/types.gen.ts from schemas/experiment.schema.json (the single source of truth).
// `--check` fails when the committed file is stale instead of writing it.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compile } from 'json-schema-to-typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const schemaPath = `${root}schemas/experiment.schema.json`;
const outPath = `${root}src/spec/types.gen.ts`;
const schema = JSON.parse(readFileSync(schemaPath, 'utf8'));

const banner = '/* Generated from schemas/experiment.schema.json by `npm run gen:types`; do not edit. */';
const generated = await compile(schema, 'Experiment', {
  bannerComment: banner,
  additionalProperties: false,
  unreachableDefinitions: true,
  style: { singleQuote: true, printWidth: 110 },
  cwd: `${root}schemas`,
});
// Each *_stage definition takes the shared fields through `$ref: stage_common` beside its own
// properties; the generator drops such sibling refs, so the interfaces get them back here.
const ts = generated.replace(/export interface (\w+Stage) \{/g, 'export interface $1 extends StageCommon {');

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(outPath, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== ts) {
    console.error(
      'src/spec/types.gen.ts is out of date with schemas/experiment.schema.json; run `npm run gen:types`.',
    );
    process.exit(1);
  }
} else {
  writeFileSync(outPath, ts);
  console.log(`wrote ${outPath}`);
}
