// Reverse-mode autodiff on ONNX graphs: forward graph in, training graph (forward, loss, gradients
// in standard ONNX ops) out, runnable by any onnxruntime session.
//
// Shapes: gradient rules need static dims; they come from one measured forward pass (see
// shapes.ts), so graph inputs need static dims or an `inputShapes` entry.
import { GraphBuilder } from './builder';
import { type DType, bytesPer, makeValueInfo, numel, tensorValue } from './ir';
import { onnx } from './onnx';
import { GradContext } from './ops/context';
import { NO_GRADIENT, RULES } from './ops/index';
import { type ShapeMap, inferShapes } from './shapes';

export type LossSpec = 'sum' | 'mean-square' | { output: string };

export interface TrainingGraphOptions {
  /** Initializers to train: names, or a predicate on initializer names. */
  trainable: readonly string[] | ((name: string) => boolean);
  /**
   * 'sum' (default): sum of the forward output; 'mean-square': mean of its squares;
   * { output }: a scalar the graph already computes (a graph output or any tensor).
   */
  loss?: LossSpec;
  /** Which forward output 'sum' / 'mean-square' reduce (default: the graph's first output). */
  output?: string;
  /** Dims for graph inputs whose dims are symbolic. */
  inputShapes?: Record<string, readonly number[]>;
  /** Also return the forward graph outputs (default false). */
  keepOutputs?: boolean;
  /** Shapes measured earlier with inferShapes (skips the probe run). */
  shapes?: ShapeMap;
}

export const LOSS = 'loss';
export const gradName = (param: string): string => `grad.${param}`;

/** Names of the trainable initializers selected by `trainable`, in graph order. */
export function selectTrainable(
  model: onnx.IModelProto,
  trainable: TrainingGraphOptions['trainable'],
): string[] {
  const inits = (model.graph?.initializer ?? []).map((t) => t.name ?? '');
  if (typeof trainable === 'function') return inits.filter((n) => trainable(n));
  const known = new Set(inits);
  for (const n of trainable) {
    if (!known.has(n)) {
      const some = inits.slice(0, 8).join(', ');
      throw new Error(
        `Trainable '${n}' is not an initializer of the model (initializers: ${some}${inits.length > 8 ? ', ...' : ''}).`,
      );
    }
  }
  return inits.filter((n) => trainable.includes(n));
}

/**
 * Builds the training graph. Its inputs are the data inputs followed by the trainable parameters
 * (frozen initializers stay initializers); its outputs are `loss` and `grad.<param>` per trainable,
 * then (with keepOutputs) the forward outputs. Intermediates are never outputs, so onnxruntime
 * frees every activation once the backward pass has used it.
 */
export async function buildTrainingGraph(
  model: onnx.IModelProto,
  options: TrainingGraphOptions,
): Promise<onnx.ModelProto> {
  const params = selectTrainable(model, options.trainable);
  if (params.length === 0)
    throw new Error('No initializer matches `trainable`; name at least one weight to train.');
  const info = options.shapes ?? (await inferShapes(model, options.inputShapes));
  const b = GraphBuilder.fromModel(model);
  if (b.opset < 13) {
    throw new Error(
      `The model uses ONNX opset ${b.opset}; the training engine needs opset 13 or newer (re-export it).`,
    );
  }
  const forwardOutputs = [...b.outputs];
  const paramSet = new Set(params);
  const paramInits = b.initializers.filter((t) => paramSet.has(t.name));
  b.initializers.splice(0, b.initializers.length, ...b.initializers.filter((t) => !paramSet.has(t.name)));
  b.inputs.splice(0, b.inputs.length, ...b.inputs.filter((v) => !paramSet.has(v.name)));
  for (const t of paramInits) {
    const v = tensorValue(t);
    b.inputs.push(makeValueInfo(t.name, v.dtype, v.dims));
  }

  const nodes = topologicalOrder(b.nodes);
  const requires = new Set(params);
  for (const n of nodes) {
    if (NO_GRADIENT.has(n.opType)) continue;
    if (!n.input.some((i) => requires.has(i))) continue;
    for (const o of n.output) if (isTrainableType(info.get(o)?.dtype)) requires.add(o);
  }

  const ctx = new GradContext(b, info);
  const { loss, seedOf, seed } = emitLoss(b, ctx, options, forwardOutputs, info);
  if (!requires.has(seedOf)) {
    throw new Error(
      `The loss does not depend on any trainable parameter (${params.slice(0, 4).join(', ')}...).`,
    );
  }

  const contributions = new Map<string, string[]>([[seedOf, [seed]]]);
  const gradOf = (t: string): string | undefined => {
    const parts = contributions.get(t);
    if (!parts || parts.length === 0) return undefined;
    if (parts.length > 1) contributions.set(t, [b.node('Sum', parts)]);
    return contributions.get(t)![0];
  };
  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    if (!n.output.some((o) => contributions.has(o)) || !n.input.some((i) => requires.has(i))) continue;
    if (NO_GRADIENT.has(n.opType)) continue;
    const rule = RULES[n.opType];
    if (!rule || (n.domain && n.domain !== 'ai.onnx')) {
      throw new Error(
        `The training engine has no gradient rule for op '${n.opType}' (node '${n.name}'); ` +
          `freeze the weights before it, rewrite it in supported ops, or add a rule in src/train/ops/.`,
      );
    }
    ctx.node = n;
    const gy = n.output.map((o) => gradOf(o));
    const gx = rule(n, gy, ctx);
    n.input.forEach((input, i) => {
      if (!gx[i] || !requires.has(input)) return;
      const list = contributions.get(input) ?? [];
      list.push(gx[i]!);
      contributions.set(input, list);
    });
  }

  b.outputs.splice(0, b.outputs.length);
  b.output(loss, info.get(loss)?.dtype ?? 'float32', []);
  for (const p of params) {
    const g = gradOf(p) ?? ctx.zerosLike(p);
    const out = b.identity(g, gradName(p));
    b.output(out, info.get(p)!.dtype, info.get(p)!.dims);
  }
  if (options.keepOutputs) b.outputs.push(...forwardOutputs);
  prune(b);
  return b.build();
}

export interface SavedActivations {
  /** Forward intermediates the backward pass reads, which the session keeps alive until then. */
  names: string[];
  bytes: number;
}

/**
 * The forward activations a training graph keeps for its backward pass: tensors computed on the
 * way to the loss (its ancestors) and read by the gradient nodes. Graph inputs and weights are not
 * counted (the caller holds them anyway).
 */
export function savedActivations(training: onnx.IModelProto, shapes: ShapeMap): SavedActivations {
  const nodes = training.graph?.node ?? [];
  const producer = new Map<string, onnx.INodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n);
  const forward = new Set<onnx.INodeProto>();
  const stack = [LOSS];
  while (stack.length) {
    const p = producer.get(stack.pop()!);
    if (!p || forward.has(p)) continue;
    forward.add(p);
    stack.push(...(p.input ?? []).filter((i) => i));
  }
  const produced = new Set<string>();
  for (const n of forward) for (const o of n.output ?? []) produced.add(o);
  const saved = new Set<string>();
  for (const n of nodes) {
    if (forward.has(n)) continue;
    for (const i of n.input ?? []) if (produced.has(i)) saved.add(i);
  }
  const names = [...saved];
  const bytes = names.reduce((s, t) => {
    const i = shapes.get(t);
    return s + (i ? numel(i.dims) * bytesPer(i.dtype) : 0);
  }, 0);
  return { names, bytes };
}

function isTrainableType(d: DType | undefined): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16';
}

/** Appends the loss; returns its name and the gradient seed for the tensor it is taken of. */
function emitLoss(
  b: GraphBuilder,
  ctx: GradContext,
  options: TrainingGraphOptions,
  outputs: onnx.ValueInfoProto[],
  info: ShapeMap,
): { loss: string; seedOf: string; seed: string } {
  const spec = options.loss ?? 'sum';
  if (typeof spec === 'object') {
    const y = spec.output;
    const i = info.get(y);
    if (!i) throw new Error(`Loss output '${y}' is not a tensor of the model; name a graph output.`);
    if (i.dims.reduce((a, d) => a * d, 1) !== 1) {
      throw new Error(
        `Loss output '${y}' has shape [${i.dims}]; a loss must be a single number (reduce it first).`,
      );
    }
    const loss = b.node('Reshape', [y, b.int64s([])], {}, { outputs: LOSS });
    ctx.record(loss, i.dtype, []);
    return { loss, seedOf: y, seed: b.expand(ctx.scalar(1, y), i.dims) };
  }
  const y = options.output ?? outputs[0]?.name;
  if (!y || !info.has(y))
    throw new Error(`Output '${y}' is not produced by the model; name one of its graph outputs.`);
  const { dtype, dims } = info.get(y)!;
  ctx.record(LOSS, dtype, []);
  if (spec === 'sum') {
    const loss = b.node('ReduceSum', [y], { keepdims: 0 }, { outputs: LOSS });
    return { loss, seedOf: y, seed: b.expand(ctx.scalar(1, y), dims) };
  }
  if (spec === 'mean-square') {
    const n = dims.reduce((a, d) => a * d, 1);
    const loss = b.node('ReduceMean', [b.mul(y, y)], { keepdims: 0 }, { outputs: LOSS });
    return { loss, seedOf: y, seed: b.mul(y, ctx.scalar(2 / n, y)) };
  }
  throw new Error(`Unknown loss '${String(spec)}'; use 'sum', 'mean-square' or { output: NAME }.`);
}

/** Nodes in an order where every input is produced first (ONNX requires it; exporters mostly comply). */
function topologicalOrder(nodes: onnx.NodeProto[]): onnx.NodeProto[] {
  const producer = new Map<string, onnx.NodeProto>();
  for (const n of nodes) for (const o of n.output) producer.set(o, n);
  const done = new Set<onnx.NodeProto>();
  const order: onnx.NodeProto[] = [];
  const visit = (root: onnx.NodeProto) => {
    // Iterative DFS: deep graphs (a UNet has thousands of nodes) would overflow recursion.
    const stack: [onnx.NodeProto, number][] = [[root, 0]];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [n, i] = top;
      if (done.has(n)) {
        stack.pop();
        continue;
      }
      if (i < n.input.length) {
        top[1]++;
        const p = producer.get(n.input[i]);
        if (p && !done.has(p)) stack.push([p, 0]);
        continue;
      }
      done.add(n);
      order.push(n);
      stack.pop();
    }
  };
  for (const n of nodes) visit(n);
  return order;
}

/** Drops nodes and initializers that no graph output needs. */
function prune(b: GraphBuilder): void {
  const needed = new Set(b.outputs.map((o) => o.name));
  const keep = new Set<onnx.NodeProto>();
  for (let k = b.nodes.length - 1; k >= 0; k--) {
    const n = b.nodes[k];
    if (!n.output.some((o) => needed.has(o))) continue;
    keep.add(n);
    for (const i of n.input) needed.add(i);
  }
  const ordered = topologicalOrder(b.nodes.filter((n) => keep.has(n)));
  b.nodes.splice(0, b.nodes.length, ...ordered);
  b.initializers.splice(0, b.initializers.length, ...b.initializers.filter((t) => needed.has(t.name)));
  b.valueInfos.splice(0, b.valueInfos.length);
}
