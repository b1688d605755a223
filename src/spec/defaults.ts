// Fills in every default the schema declares, so compiled plans are fully resolved and the
// rest of the code never re-checks for undefined.
import { deref, experimentSchema, type JsonSchema } from './schema';

export function applyDefaults<T>(root: JsonSchema, value: T): T {
  const copy = structuredClone(value);
  fill(root, root, copy);
  return copy;
}

/**
 * `given` with the defaults the schema declares for `$defs/<name>` filled in where it leaves a
 * field undefined, nested objects included, as a plan's params are: for code that takes params
 * without going through a plan. The settings every stage has (timeouts, retries, queue) are not
 * params and are not added.
 */
export function withSchemaDefaults<T extends object>(given: T, name: string): T {
  const root = experimentSchema().schema;
  const defs = root.$defs as Record<string, JsonSchema>;
  const out = structuredClone(given) as Record<string, unknown>;
  const set = new Set(Object.keys(out).filter((k) => out[k] !== undefined));
  fill(root, defs[name], out);
  for (const k of Object.keys(defs.stage_common?.properties ?? {})) if (!set.has(k)) delete out[k];
  return out as T;
}

function fill(root: JsonSchema, node: JsonSchema | undefined, value: unknown): void {
  if (!node || value === null || typeof value !== 'object') return;
  if (node.$ref) fill(root, deref(root, node.$ref), value);
  if (node.discriminator && Array.isArray(node.oneOf)) {
    const tag = node.discriminator.propertyName as string;
    const branch = (node.oneOf as JsonSchema[])
      .map((b) => (b.$ref ? deref(root, b.$ref) : b))
      .find((b) => b.properties?.[tag]?.const === (value as Record<string, unknown>)[tag]);
    fill(root, branch, value);
  }
  if (Array.isArray(value)) {
    if (node.items) for (const item of value) fill(root, node.items, item);
    return;
  }
  const obj = value as Record<string, unknown>;
  for (const [k, sub] of Object.entries((node.properties ?? {}) as Record<string, JsonSchema>)) {
    if (obj[k] === undefined && sub.default !== undefined) obj[k] = structuredClone(sub.default);
    if (obj[k] !== undefined) fill(root, sub, obj[k]);
  }
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    for (const [k, v] of Object.entries(obj))
      if (!(k in (node.properties ?? {}))) fill(root, node.additionalProperties, v);
  }
}
