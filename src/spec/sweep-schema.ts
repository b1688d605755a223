// Resolves a sweep's dotted path ('stages.reward.lambda') to the schema of the field it targets,
// following the actual stage's kind, so sweep values are checked like the field itself.
import { didYouMean } from './diagnostics';
import { deref, experimentSchema, type JsonSchema } from './schema';
import type { Experiment } from './types.gen';

export type SweepParameter =
  | unknown[]
  | { values: unknown[] }
  | {
      distribution: 'uniform' | 'log_uniform' | 'int' | 'choice';
      min?: number;
      max?: number;
      values?: unknown[];
    };

/** Fields that change what a stage is rather than how it runs; sweeping them is refused. */
const UNSWEEPABLE = new Set(['kind']);
/** Settings of the whole run, one value for every trial (the plan reads them once). */
const RUN_WIDE = ['apiVersion', 'metadata.name', 'tracking', 'sweep'];

export function sweepTargetSchema(
  exp: Experiment,
  dotted: string,
): { schema: JsonSchema } | { error: string; hint?: string } {
  const { schema: root } = experimentSchema();
  const parts = dotted.split('.');
  const runWide = RUN_WIDE.find((p) => dotted === p || dotted.startsWith(`${p}.`));
  if (runWide)
    return {
      error: `cannot sweep '${dotted}': ${runWide} is one setting for the whole run, not one per trial`,
      hint:
        runWide === 'metadata.name' || runWide === 'tracking'
          ? 'tag trials in MLflow by their swept values instead'
          : undefined,
    };
  let node: JsonSchema = root;
  let value: any = exp;
  for (let i = 0; i < parts.length; i++) {
    const seg = parts[i];
    node = expand(root, node, value);
    const props = (node.properties ?? {}) as Record<string, JsonSchema>;
    let next: JsonSchema | undefined = props[seg];
    if (!next && node.additionalProperties && typeof node.additionalProperties === 'object') {
      if (value && typeof value === 'object' && seg in value) next = node.additionalProperties;
      else {
        const hint = value && typeof value === 'object' ? didYouMean(seg, Object.keys(value)) : undefined;
        return {
          error: `sweep path '${dotted}' does not exist: no '${seg}' in ${parts.slice(0, i).join('.') || 'the spec'}`,
          hint,
        };
      }
    }
    if (!next) {
      const hint = didYouMean(seg, Object.keys(props));
      return {
        error: `sweep path '${dotted}' does not exist: '${parts.slice(0, i).join('.')}' has no field '${seg}'`,
        hint,
      };
    }
    if (UNSWEEPABLE.has(seg)) return { error: `cannot sweep '${dotted}': a stage's kind is fixed` };
    node = next;
    value = value?.[seg];
  }
  node = expand(root, node, value);
  return { schema: { $defs: root.$defs, ...stripDefault(node) } };
}

/** Follows $ref and picks the discriminated branch matching the value. */
function expand(root: JsonSchema, node: JsonSchema, value: any): JsonSchema {
  let n = node;
  if (n.$ref && !n.properties) n = deref(root, n.$ref);
  if (n.discriminator && Array.isArray(n.oneOf) && value && typeof value === 'object') {
    const tag = n.discriminator.propertyName;
    const branch = (n.oneOf as JsonSchema[])
      .map((b) => (b.$ref ? deref(root, b.$ref) : b))
      .find((b) => b.properties?.[tag]?.const === value[tag]);
    if (branch) n = branch;
  }
  if (n.$ref && n.properties) {
    const base = deref(root, n.$ref);
    n = { ...n, properties: { ...(base.properties ?? {}), ...n.properties } };
  }
  return n;
}

function stripDefault(n: JsonSchema): JsonSchema {
  const { default: _d, description: _x, ...rest } = n;
  return rest;
}
