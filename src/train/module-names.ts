// Torch module paths of an exported model's weights, and LoRA targets by those paths.
//
// torch.onnx.export renames Linear weights to `onnx::MatMul_NNNN` (stored transposed, [in, out])
// but names every node after its torch module scope, e.g.
// `/down_blocks.0/attentions.0/transformer_blocks.0/attn1/to_q/MatMul`; Conv and Gemm weights
// usually keep their torch names (`down_blocks.0.resnets.0.conv1.weight`). So a weight's module is
// its initializer name minus `.weight` where that is a torch name, else its consumer node's scope.
// LoRA targets then follow peft / diffusers: `to_q` or `to_out.0` (a module path suffix, peft's
// target_modules rule) or a glob over the whole path (`down_blocks.*.attentions.*`).
import { attrInt, toNumber } from './ir';
import type { onnx } from './onnx';

export type WeightOp = 'MatMul' | 'Gemm' | 'Conv';

export interface ModuleWeight {
  /** The ONNX initializer holding the weight. */
  initializer: string;
  /** The torch module path (`down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q`), or null if unknown. */
  module: string | null;
  /** The torch parameter (`<module>.weight`), or null if the module is unknown. */
  param: string | null;
  /** The first node consuming it as its weight. */
  node: string;
  op: WeightOp;
  /** Linear (MatMul / Gemm) or convolution. */
  kind: 'linear' | 'conv';
  /** True where ONNX stores it transposed relative to torch's Linear [out, in] (MatMul, Gemm without transB). */
  transposed: boolean;
  dims: number[];
  /** Whether addLora can put an adapter on it (2-D linear weight, no transA, ungrouped conv). */
  adaptable: boolean;
}

const WEIGHT_OPS = new Set<string>(['MatMul', 'Gemm', 'Conv']);
/** ONNX float, float16, double, bfloat16. */
const FLOAT_CODES = new Set([1, 10, 11, 16]);

/**
 * Each float initializer consumed as the weight (input 1) of a MatMul / Gemm / Conv node, in node
 * order (an initializer consumed by several nodes is listed once, for its first consumer).
 */
export function moduleWeights(model: onnx.IModelProto): ModuleWeight[] {
  const g = model.graph ?? {};
  const inits = new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  const out: ModuleWeight[] = [];
  const seen = new Set<string>();
  for (const node of g.node ?? []) {
    const op = node.opType ?? '';
    const w = node.input?.[1];
    if (!WEIGHT_OPS.has(op) || !w || seen.has(w)) continue;
    const t = inits.get(w);
    if (!t || !FLOAT_CODES.has(t.dataType ?? 0)) continue;
    seen.add(w);
    const dims = (t.dims ?? []).map(toNumber);
    const module = moduleOf(w, node.name ?? '');
    const kind = op === 'Conv' ? 'conv' : 'linear';
    const transposed = op === 'MatMul' || (op === 'Gemm' && attrInt(node, 'transB', 0) !== 1);
    const adaptable =
      op === 'Conv'
        ? attrInt(node, 'group', 1) === 1
        : dims.length === 2 && !(op === 'Gemm' && attrInt(node, 'transA', 0) === 1);
    out.push({
      initializer: w,
      module,
      param: module === null ? null : `${module}.weight`,
      node: node.name ?? '',
      op: op as WeightOp,
      kind,
      transposed: kind === 'linear' && transposed,
      dims,
      adaptable,
    });
  }
  return out;
}

/** `a.b.weight` → `a.b`; else the node scope `/a/b/MatMul` → `a.b`; else null. */
function moduleOf(initializer: string, nodeName: string): string | null {
  if (isTorchWeightName(initializer)) return initializer.slice(0, -'.weight'.length);
  if (!nodeName.startsWith('/')) return null;
  const parts = nodeName.slice(1).split('/');
  parts.pop(); // the op segment: MatMul, Gemm, Conv, MatMul_1, ...
  return parts.length && parts.every((p) => p.length > 0) ? parts.join('.') : null;
}

function isTorchWeightName(name: string): boolean {
  return /^[A-Za-z_][\w]*(\.[\w]+)*\.weight$/.test(name) && !name.startsWith('onnx::');
}

/** No weight matched the LoRA target patterns. */
export class LoraTargetError extends Error {
  readonly patterns: readonly string[];
  readonly available: readonly string[];
  constructor(patterns: readonly string[], available: readonly string[], total: number) {
    const list = available.length
      ? `available modules include ${available.join(', ')}${total > available.length ? ` (${total} in all)` : ''}`
      : 'the model has no MatMul/Gemm/Conv weights with module names';
    super(
      `No LoRA target matches ${patterns.map((p) => JSON.stringify(p)).join(', ')}: ${list}; ` +
        `name modules as peft's target_modules does (a path suffix such as "to_q" or "to_out.0") or glob over the full path (e.g. "*attn*").`,
    );
    this.name = 'LoraTargetError';
    this.patterns = patterns;
    this.available = available;
  }
}

const GLOB_CHARS = /[*?[]/;

/** fnmatch-style glob → RegExp: `*` (crosses dots), `?`, `[seq]`, `[!seq]`. */
export function globToRegExp(glob: string): RegExp {
  let body = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') body += '.*';
    else if (c === '?') body += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        body += '\\[';
        continue;
      }
      let set = glob.slice(i + 1, end);
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      body += `[${set.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else body += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${body}$`, 's');
}

/** Whether a module path matches one target pattern (peft's suffix rule, or a glob). */
export function matchesModule(module: string, pattern: string): boolean {
  if (GLOB_CHARS.test(pattern)) return globToRegExp(pattern).test(module);
  return module === pattern || module.endsWith(`.${pattern}`);
}

/**
 * The initializer names that get LoRA adapters for target `patterns`, in the peft / diffusers
 * convention over torch module paths: a plain pattern (`to_q`, `to_out.0`) matches a module whose
 * path equals it or ends with `.` + it; a pattern with `*`, `?` or `[` is a glob over the full
 * path. A pattern that matches no module but does match initializer names (as a glob, the older
 * spec form, e.g. `onnx::MatMul_*`) selects those initializers. Throws LoraTargetError when
 * nothing matches. Pass the result to addLora as `match: (n) => set.has(n)`.
 */
export function resolveLoraTargets(
  model: onnx.IModelProto,
  patterns: readonly string[],
  weights: readonly ModuleWeight[] = moduleWeights(model),
): string[] {
  const candidates = weights.filter((w) => w.adaptable);
  const chosen = new Set<string>();
  for (const pattern of patterns) {
    const byModule = candidates.filter((w) =>
      w.module === null ? globToRegExp(pattern).test(w.initializer) : matchesModule(w.module, pattern),
    );
    const hits = byModule.length
      ? byModule
      : candidates.filter((w) => globToRegExp(pattern).test(w.initializer));
    for (const w of hits) chosen.add(w.initializer);
  }
  if (chosen.size === 0) {
    const named = candidates.filter((w) => w.module !== null);
    const linear = named.filter((w) => w.kind === 'linear').map((w) => w.module!);
    const conv = named.filter((w) => w.kind === 'conv').map((w) => w.module!);
    throw new LoraTargetError(patterns, [...linear, ...conv].slice(0, 8), named.length);
  }
  return candidates.filter((w) => chosen.has(w.initializer)).map((w) => w.initializer);
}
