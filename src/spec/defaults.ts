// Fills in every default the schema declares, so compiled plans are fully resolved and the
// rest of the code never re-checks for undefined.
import { deref, experimentSchema, type JsonSchema } from './schema';

export function applyDefaults<T>(root: JsonSchema, value: T): T {
  const copy = structuredClone(value);
  fill(root, root, copy);
  return copy;
}

/**
 * The defaults the schema declares for `$defs/<name>` (or the object at `path` under it), nested
 * objects with defaults filled too: for code that takes params without going through a plan.
 */
export function schemaDefaults(name: string, ...path: string[]): Record<string, unknown> {
  const root = experimentSchema().schema;
  let node: JsonSchema | undefined = (root.$defs as Record<string, JsonSchema>)[name];
  for (const seg of path) {
    const at: JsonSchema | undefined = node?.$ref ? deref(root, node.$ref) : node;
    node = (at?.properties as Record<string, JsonSchema> | undefined)?.[seg];
  }
  const out: Record<string, unknown> = {};
  fill(root, node, out);
  // The settings every stage has (timeouts, retries, queue) are not the stage's params.
  const common = (root.$defs as Record<string, JsonSchema>).stage_common?.properties ?? {};
  if (path.length === 0) for (const k of Object.keys(common)) delete out[k];
  return out;
}

/** `given` with every field it leaves undefined taken from `defaults`. */
export function withDefaults<T extends object>(given: T, defaults: object): T {
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) out[k] = v;
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
