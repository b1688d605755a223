// JSON Schema validation of a loaded spec (ajv, draft 2020-12), with ajv's errors rewritten as
// one-sentence diagnostics located at the offending YAML node.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import { didYouMean, type Diagnostic } from './diagnostics';
import { locate, pathToString, type PathSegment, type SpecSource } from './source';

export const SCHEMA_PATH = fileURLToPath(new URL('../../schemas/experiment.schema.json', import.meta.url));
export type JsonSchema = Record<string, any>;

let cached: { schema: JsonSchema; ajv: Ajv2020; validate: ValidateFunction } | undefined;

export function experimentSchema(): { schema: JsonSchema; ajv: Ajv2020; validate: ValidateFunction } {
  if (!cached) {
    const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as JsonSchema;
    const ajv = new Ajv2020({ allErrors: true, verbose: true, discriminator: true, strict: false });
    const validate = ajv.compile(schema);
    cached = { schema, ajv, validate };
  }
  return cached;
}

/** Resolves a local `#/$defs/x` reference. */
export function resolveRef(schema: JsonSchema, node: JsonSchema | undefined): JsonSchema | undefined {
  let n = node;
  while (n && typeof n.$ref === 'string' && Object.keys(n).length === 1) n = deref(schema, n.$ref);
  return n;
}

export function deref(schema: JsonSchema, ref: string): JsonSchema {
  const parts = ref.replace(/^#\//, '').split('/');
  let n: any = schema;
  for (const p of parts) n = n?.[p];
  if (!n) throw new Error(`schema reference ${ref} does not resolve`);
  return n;
}

const patternMessages: Record<string, string> = {
  '^[a-z][a-z0-9_]{0,62}$': 'must be lower-case letters, digits and underscores, starting with a letter',
  '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$': "must be a duration such as '500ms', '30s', '10m', '2h' or '1d'",
  '^https?://': 'must be an http:// or https:// URL',
  '^(https?|file)://': 'must be an http://, https:// or file:// URI',
  '^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z0-9_]+)+$':
    "must be a dotted path into the spec, such as 'stages.reward.lambda'",
  '^[a-z][a-z0-9_]*\\.[A-Za-z0-9_./]+$':
    "must name a stage metric as 'stage.metric', such as 'evaluate.alignment_seen'",
};

const typeNames: Record<string, string> = {
  number: 'a number',
  integer: 'an integer',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
  null: 'null',
};

export function show(v: unknown): string {
  if (typeof v === 'string') return `'${v.length > 40 ? v.slice(0, 37) + '...' : v}'`;
  if (Array.isArray(v)) return 'a list';
  if (v !== null && typeof v === 'object') return 'a mapping';
  return String(v);
}

function toSegments(instancePath: string): PathSegment[] {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** Keys a mapping at this schema node may hold (own properties plus a sibling `$ref`'s). */
function allowedKeys(schema: JsonSchema, node: JsonSchema | undefined): string[] {
  const keys = new Set<string>(Object.keys(node?.properties ?? {}));
  if (node?.$ref) for (const k of Object.keys(deref(schema, node.$ref).properties ?? {})) keys.add(k);
  return [...keys];
}

/** Schema problems listed per file; the rest are counted in one line. */
const MAX_SCHEMA_DIAGNOSTICS = 50;

export function validateSchema(src: SpecSource): Diagnostic[] {
  const { schema, validate } = experimentSchema();
  if (validate(src.value)) return [];
  const errors = validate.errors ?? [];
  const out: Diagnostic[] = [];
  const at = (path: PathSegment[], message: string, hint?: string, key = false): Diagnostic => ({
    file: src.file,
    ...locate(src, path, { key }),
    path: pathToString(path),
    message,
    hint,
  });
  const anyOfPaths = new Map<string, ErrorObject>();
  for (const e of errors) if (e.keyword === 'anyOf') anyOfPaths.set(e.instancePath, e);

  for (const [i, e] of errors.entries()) {
    const path = toSegments(e.instancePath);
    if (out.length >= MAX_SCHEMA_DIAGNOSTICS) {
      // Thousands of problems (a generated or hostile file) would take longer to place than to fix.
      // Placed at the end of the file, so it prints after the problems it follows.
      const end = src.lines.linePos(src.text.length);
      out.push({
        file: src.file,
        line: end.line,
        col: end.col,
        path: '',
        message: `${errors.length - i} more schema problem(s) after these, not listed`,
        hint: 'fix the ones above first',
      });
      break;
    }
    const p = e.params as Record<string, any>;
    // Alternatives (sweep parameter values): one message for the whole value, unless the value
    // clearly picked a branch ({distribution: ...} or {values: ...}), whose own errors are then
    // more useful. Branches are $refs, and ajv reports their errors under the referenced path.
    const alt = enclosingAlternative(e, anyOfPaths);
    if (alt) {
      const chosen = chosenBranch(alt.error.data);
      if (chosen === null || alt.branch !== chosen) continue;
    }
    switch (e.keyword) {
      case 'discriminator':
      case 'propertyNames':
      case 'if':
        continue; // reported through the enum / pattern errors of the same node
      case 'anyOf':
      case 'oneOf': {
        const data = e.data as any;
        const picked =
          data &&
          typeof data === 'object' &&
          !Array.isArray(data) &&
          ('distribution' in data || 'values' in data);
        if (picked) continue;
        out.push(
          at(
            path,
            'must be a list of values, {values: [...]}, or {distribution: uniform|log_uniform|int|choice, ...}',
          ),
        );
        continue;
      }
      case 'required': {
        const data = e.data as Record<string, unknown>;
        const isStage = path[0] === 'stages' && path.length === 2 && typeof data.kind === 'string';
        const what = isStage
          ? ` for ${article(String(data.kind))} stage`
          : typeof data.type === 'string'
            ? ` for ${article(String(data.type))} source`
            : '';
        out.push(
          at(path, `missing required field '${p.missingProperty}'${what}`, undefined, path.length > 0),
        );
        continue;
      }
      case 'additionalProperties':
      case 'unevaluatedProperties': {
        const prop = String(p.additionalProperty ?? p.unevaluatedProperty);
        const keys = allowedKeys(schema, e.parentSchema as JsonSchema);
        const hint =
          didYouMean(prop, keys) ??
          (keys.length && keys.length <= 12 ? `allowed: ${keys.join(', ')}` : undefined);
        out.push(at([...path, prop], `unknown field '${prop}'`, hint, true));
        continue;
      }
      case 'enum': {
        const allowed = (p.allowedValues as unknown[]).map(String);
        const got = e.data;
        const hint = typeof got === 'string' ? didYouMean(got, allowed) : undefined;
        const what = path[path.length - 1] === 'kind' ? 'stage kind' : 'value';
        out.push(at(path, `unknown ${what} ${show(got)}; must be one of ${allowed.join(', ')}`, hint));
        continue;
      }
      case 'const':
        out.push(at(path, `must be ${show(p.allowedValue)} (got ${show(e.data)})`));
        continue;
      case 'type': {
        const want = String(p.type)
          .split(',')
          .map((t) => typeNames[t] ?? t)
          .join(' or ');
        out.push(at(path, `must be ${want} (got ${show(e.data)})`));
        continue;
      }
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        out.push(at(path, `must be ${p.comparison} ${p.limit} (got ${show(e.data)})`));
        continue;
      case 'minItems':
        out.push(at(path, `must have at least ${p.limit} item${p.limit === 1 ? '' : 's'}`));
        continue;
      case 'minProperties':
        out.push(at(path, `must have at least ${p.limit} entr${p.limit === 1 ? 'y' : 'ies'}`));
        continue;
      case 'uniqueItems':
        out.push(
          at(
            [...path, p.j],
            `duplicate item ${show((e.data as unknown[])[p.j])} (also at position ${p.i + 1})`,
          ),
        );
        continue;
      case 'minLength':
        out.push(at(path, 'must not be empty'));
        continue;
      case 'pattern': {
        const msg = patternMessages[p.pattern] ?? `must match ${p.pattern}`;
        if (e.propertyName !== undefined) {
          out.push(at([...path, e.propertyName], `name ${show(e.propertyName)} ${msg}`, undefined, true));
        } else {
          out.push(at(path, `${msg} (got ${show(e.data)})`));
        }
        continue;
      }
      default:
        out.push(at(path, e.message ?? `fails ${e.keyword}`));
    }
  }
  return out;
}

function article(word: string): string {
  return `${/^[aeiou]/.test(word) ? 'an' : 'a'} ${word}`;
}

/** Index of the sweep-value branch a value clearly chose: 1 = {values}, 2 = {distribution}; 0 = list. */
function chosenBranch(data: unknown): number | null {
  if (Array.isArray(data)) return 0;
  if (!data || typeof data !== 'object') return null;
  if ('distribution' in data) return 2;
  if ('values' in data) return 1;
  return null;
}

/** The anyOf error an error sits under, and which branch it came from. */
function enclosingAlternative(
  e: ErrorObject,
  anyOfs: Map<string, ErrorObject>,
): { error: ErrorObject; branch: number } | undefined {
  for (const [ip, a] of anyOfs) {
    if (e === a || !e.instancePath.startsWith(ip)) continue;
    const branches = ((a.parentSchema as JsonSchema)?.anyOf ?? []) as JsonSchema[];
    for (let i = 0; i < branches.length; i++) {
      const inline = `${a.schemaPath}/${i}/`;
      const ref = branches[i].$ref ? `${branches[i].$ref}/` : undefined;
      if (e.schemaPath.startsWith(inline) || (ref && e.schemaPath.startsWith(ref)))
        return { error: a, branch: i };
    }
  }
  return undefined;
}
