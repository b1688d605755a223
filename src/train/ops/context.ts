// What a gradient rule sees: the builder to emit nodes into, and static facts about forward tensors.
import type { GraphBuilder } from '../builder';
import { type DType, type TensorValue, attrInts, numel, tensorValue } from '../ir';
import type { onnx } from '../onnx';
import type { ShapeMap } from '../shapes';

/**
 * A rule gets the forward node and the gradients of its outputs (undefined where an output does
 * not reach the loss) and returns one gradient per input (undefined: none). It may compute
 * gradients for inputs that need none: nodes nobody consumes are pruned afterwards.
 */
export type GradRule = (
  node: onnx.NodeProto,
  gy: (string | undefined)[],
  ctx: GradContext,
) => (string | undefined)[];

export class GradContext {
  constructor(
    readonly b: GraphBuilder,
    private readonly info: ShapeMap,
    /** The node whose rule is running, named in error messages. */
    public node: onnx.INodeProto = {},
  ) {}

  private get where(): string {
    return `${this.node.opType} node '${this.node.name ?? ''}'`;
  }

  fail(what: string): never {
    throw new Error(`Cannot differentiate ${this.where}: ${what}`);
  }

  shape(t: string): number[] {
    const i = this.info.get(t);
    if (!i) this.fail(`the shape of '${t}' is unknown.`);
    return i.dims;
  }

  dtype(t: string): DType {
    const i = this.info.get(t);
    if (!i) this.fail(`the type of '${t}' is unknown.`);
    return i.dtype;
  }

  /** Records a new tensor's type and dims, for rules that build on other rules' outputs. */
  record(t: string, dtype: DType, dims: number[]): string {
    this.info.set(t, { dtype, dims });
    return t;
  }

  /** A constant integer input (shape, axes, starts...) as numbers; fails if it is computed from data. */
  ints(t: string, what: string): number[] {
    const v = this.info.get(t)?.value;
    if (!v) this.fail(`its ${what} input '${t}' must be a constant (or computed from shapes only).`);
    return Array.from(v.data as ArrayLike<number | bigint>, Number);
  }

  /** Value of a constant input if known (initializer, Constant node, or small computed int). */
  value(t: string): TensorValue | undefined {
    return this.info.get(t)?.value;
  }

  /** Axes from the attribute (older opsets) or the optional input (newer ones). */
  axes(node: onnx.INodeProto, inputIndex: number): number[] | undefined {
    const fromAttr = attrInts(node, 'axes');
    if (fromAttr) return fromAttr;
    const t = node.input?.[inputIndex];
    return t ? this.ints(t, 'axes') : undefined;
  }

  scalar(v: number, like: string): string {
    return this.b.constant(v, [], this.floatType(like));
  }

  floatType(like: string): DType {
    const d = this.dtype(like);
    if (d !== 'float32' && d !== 'float64')
      this.fail(`'${like}' is ${d}; training graphs are float32 or float64.`);
    return d;
  }

  /** Sums a gradient of shape `from` down to a broadcast operand of shape `to`. */
  unbroadcast(g: string, from: readonly number[], to: readonly number[]): string {
    if (from.length === to.length && from.every((d, i) => d === to[i])) return g;
    const lead = from.length - to.length;
    const axes: number[] = [];
    for (let i = 0; i < from.length; i++) {
      if (i < lead || (to[i - lead] === 1 && from[i] !== 1)) axes.push(i);
    }
    const summed = axes.length ? this.b.reduceSum(g, axes, true) : g;
    return this.b.reshape(summed, to);
  }

  /** Gradient `g` (shaped like y) unbroadcast to input `x`. */
  unbroadcastTo(g: string, y: string, x: string): string {
    return this.unbroadcast(g, this.shape(y), this.shape(x));
  }

  zerosLike(t: string): string {
    const dims = this.shape(t);
    return this.b.expand(this.scalar(0, t), dims);
  }

  rank(t: string): number {
    return this.shape(t).length;
  }

  numel(t: string): number {
    return numel(this.shape(t));
  }
}

export function initializerValues(model: onnx.IModelProto): Map<string, TensorValue> {
  return new Map((model.graph?.initializer ?? []).map((t) => [t.name ?? '', tensorValue(t)]));
}
