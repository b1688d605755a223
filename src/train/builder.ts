/**
 * GraphBuilder: write ONNX graphs fluently, in standard ops (opset 17 by default).
 *
 *   const b = new GraphBuilder();
 *   const x = b.input('x', 'float32', [1, 4]);
 *   const w = b.initializer('w', new Float32Array(12), [4, 3]);
 *   const y = b.relu(b.add(b.matmul(x, w), b.constant(0.5)));
 *   b.output(b.identity(y, 'y'), 'float32', [1, 3]);
 *   b.save('model.onnx', { externalDataThreshold: 1 << 20 });
 *
 * Graph I/O and weights
 *   input(name, dtype, dims)               graph input; dims may hold symbolic names (strings)
 *   output(name, dtype?, dims?)            mark a tensor as a graph output
 *   initializer(name, data, dims, dtype?)  a weight (typed array; Uint16Array = float16 bits)
 *   constant(value, dims?, dtype?)         a Constant node; numbers default to float32 scalars
 *   int64s(values)                         1-D int64 Constant (shapes, axes, pads)
 *   valueInfo(name, dtype, dims)           record an intermediate's type/shape
 * Nodes
 *   node(opType, inputs, attrs?, { outputs?, name?, domain? })
 *     outputs: omitted or one name -> returns that name; a count or names -> returns string[].
 *     Input '' is an omitted optional input. Attribute arrays of integers become INTS; pass
 *     float arrays that happen to be integral through `floatAttrs` (e.g. ['scales']).
 *   fresh(hint)                            a tensor/node name not used yet in this graph
 * Convenience ops (each returns its output name)
 *   matmul add sub mul div pow neg sqrt exp log sin cos erf tanh sigmoid relu silu gelu identity
 *   gemm conv convTranspose groupNorm layerNorm instanceNorm softmax logSoftmax reshape transpose
 *   concat split gather slice squeeze unsqueeze reduceMean reduceSum expand where cast resize shape
 * Output
 *   build() -> onnx.ModelProto             save(path, { externalDataThreshold })
 *   GraphBuilder.fromModel(model) continues an existing graph (the engine appends gradients so).
 */
import { onnx } from './onnx';
import {
  type AttrValue,
  type DType,
  type SaveOptions,
  type TypedArray,
  dtypeCode,
  dtypeOfArray,
  makeAttribute,
  makeTensor,
  makeValueInfo,
  saveModel,
} from './ir';

export type Dims = readonly (number | string)[];
export type Attrs = Record<string, AttrValue | undefined>;

export interface NodeOptions {
  /** Output names, or how many fresh outputs to create (default: one fresh output). */
  outputs?: string | string[] | number;
  /** Node name (default: a fresh `<OpType>_<n>`). */
  name?: string;
  /** Operator domain (default: the standard '' domain). */
  domain?: string;
  /** Attribute names whose numeric arrays must be FLOATS even when integral. */
  floatAttrs?: string[];
}

export interface ConvOptions {
  strides?: number[];
  pads?: number[];
  dilations?: number[];
  group?: number;
  outputPadding?: number[];
}

export class GraphBuilder {
  readonly opset: number;
  readonly nodes: onnx.NodeProto[] = [];
  readonly inputs: onnx.ValueInfoProto[] = [];
  readonly outputs: onnx.ValueInfoProto[] = [];
  readonly initializers: onnx.TensorProto[] = [];
  readonly valueInfos: onnx.ValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly graphName: string;
  private base: onnx.IModelProto | undefined;

  constructor(options: { name?: string; opset?: number } = {}) {
    this.opset = options.opset ?? 17;
    this.graphName = options.name ?? 'alignrun';
  }

  /** Continue an existing graph: its nodes, inputs, outputs and initializers are kept in order. */
  static fromModel(model: onnx.IModelProto): GraphBuilder {
    const opset = (model.opsetImport ?? []).find((o) => !o.domain)?.version;
    const b = new GraphBuilder({ name: model.graph?.name ?? undefined, opset: Number(opset ?? 17) });
    b.base = model;
    const g = model.graph ?? {};
    // Own copies of the name lists, so rewiring a node never edits the caller's model.
    b.nodes.push(
      ...(g.node ?? []).map((n) =>
        onnx.NodeProto.create({
          ...n,
          input: [...(n.input ?? [])],
          output: [...(n.output ?? [])],
          attribute: [...(n.attribute ?? [])],
        }),
      ),
    );
    b.inputs.push(...(g.input ?? []).map((v) => onnx.ValueInfoProto.create(v)));
    b.outputs.push(...(g.output ?? []).map((v) => onnx.ValueInfoProto.create(v)));
    b.initializers.push(...(g.initializer ?? []).map((t) => onnx.TensorProto.create(t)));
    b.valueInfos.push(...(g.valueInfo ?? []).map((v) => onnx.ValueInfoProto.create(v)));
    for (const n of b.nodes) {
      if (n.name) b.used.add(n.name);
      for (const o of n.output) b.used.add(o);
      for (const i of n.input) b.used.add(i);
    }
    for (const v of [...b.inputs, ...b.outputs, ...b.valueInfos]) b.used.add(v.name);
    for (const t of b.initializers) b.used.add(t.name);
    return b;
  }

  /** A name not used yet: `hint`, else `hint_1`, `hint_2`, ... */
  fresh(hint: string): string {
    if (!this.used.has(hint)) {
      this.used.add(hint);
      return hint;
    }
    let n = this.counters.get(hint) ?? 0;
    let name: string;
    do name = `${hint}_${++n}`;
    while (this.used.has(name));
    this.counters.set(hint, n);
    this.used.add(name);
    return name;
  }

  private claim(name: string, what: string): string {
    if (this.used.has(name))
      throw new Error(`${what} name '${name}' is already used in this graph; pick another.`);
    this.used.add(name);
    return name;
  }

  input(name: string, dtype: DType, dims: Dims): string {
    this.inputs.push(makeValueInfo(this.claim(name, 'Input'), dtype, dims));
    return name;
  }

  /** Marks an existing tensor as a graph output (dtype float32 unless given; dims optional). */
  output(name: string, dtype: DType = 'float32', dims?: Dims): string {
    this.used.add(name);
    this.outputs.push(makeValueInfo(name, dtype, dims));
    return name;
  }

  initializer(name: string, data: TypedArray, dims: readonly number[], dtype?: DType): string {
    this.initializers.push(makeTensor(this.claim(name, 'Initializer'), data, dims, dtype));
    return name;
  }

  valueInfo(name: string, dtype: DType, dims: Dims): void {
    this.valueInfos.push(makeValueInfo(name, dtype, dims));
  }

  /** A Constant node. A number or number[] becomes float32 unless `dtype` says otherwise. */
  constant(
    value: TypedArray | number | number[],
    dims?: readonly number[],
    dtype?: DType,
    hint = 'const',
  ): string {
    let data: TypedArray;
    if (typeof value === 'number' || Array.isArray(value)) {
      const vals = typeof value === 'number' ? [value] : value;
      data = typedArrayOf(dtype ?? 'float32', vals);
    } else data = value;
    const shape = dims ?? (typeof value === 'number' ? [] : [data.length]);
    const t = makeTensor('', data, shape, dtype ?? dtypeOfArray(data));
    return this.node('Constant', [], { value: t }, { outputs: this.fresh(hint) });
  }

  int64s(values: readonly number[], hint = 'ints'): string {
    return this.constant(BigInt64Array.from(values.map((v) => BigInt(v))), [values.length], 'int64', hint);
  }

  node(
    opType: string,
    inputs: readonly string[],
    attrs?: Attrs,
    opts?: NodeOptions & { outputs?: string },
  ): string;
  node(
    opType: string,
    inputs: readonly string[],
    attrs: Attrs | undefined,
    opts: NodeOptions & { outputs: string[] | number },
  ): string[];
  node(
    opType: string,
    inputs: readonly string[],
    attrs: Attrs = {},
    opts: NodeOptions = {},
  ): string | string[] {
    const name = opts.name ? this.claim(opts.name, 'Node') : this.fresh(opType);
    const o = opts.outputs;
    const outputs =
      o === undefined
        ? [this.fresh(`${name}_out`)]
        : typeof o === 'string'
          ? [o]
          : typeof o === 'number'
            ? Array.from({ length: o }, (_, i) => this.fresh(`${name}_out${i}`))
            : o;
    for (const out of outputs) this.used.add(out);
    const floatAttrs = new Set(opts.floatAttrs ?? []);
    const attribute = Object.entries(attrs)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => makeAttribute(k, v as AttrValue, floatAttrs.has(k)));
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        name,
        input: [...inputs],
        output: outputs,
        attribute,
        domain: opts.domain ?? '',
      }),
    );
    return o === undefined || typeof o === 'string' ? outputs[0] : outputs;
  }

  // ---- elementwise ----
  matmul = (a: string, b: string) => this.node('MatMul', [a, b]);
  add = (a: string, b: string) => this.node('Add', [a, b]);
  sub = (a: string, b: string) => this.node('Sub', [a, b]);
  mul = (a: string, b: string) => this.node('Mul', [a, b]);
  div = (a: string, b: string) => this.node('Div', [a, b]);
  pow = (a: string, b: string) => this.node('Pow', [a, b]);
  neg = (x: string) => this.node('Neg', [x]);
  sqrt = (x: string) => this.node('Sqrt', [x]);
  exp = (x: string) => this.node('Exp', [x]);
  log = (x: string) => this.node('Log', [x]);
  sin = (x: string) => this.node('Sin', [x]);
  cos = (x: string) => this.node('Cos', [x]);
  erf = (x: string) => this.node('Erf', [x]);
  tanh = (x: string) => this.node('Tanh', [x]);
  sigmoid = (x: string) => this.node('Sigmoid', [x]);
  relu = (x: string) => this.node('Relu', [x]);
  /** x * sigmoid(x), written as two ops so every runtime and the engine know it. */
  silu = (x: string) => this.mul(x, this.sigmoid(x));
  /** Exact GELU: 0.5 x (1 + erf(x / sqrt 2)), with constants of the given dtype. */
  gelu = (x: string, dtype: DType = 'float32') => {
    const e = this.erf(this.mul(x, this.constant(Math.SQRT1_2, [], dtype)));
    return this.mul(this.mul(x, this.constant(0.5, [], dtype)), this.add(e, this.constant(1, [], dtype)));
  };
  identity = (x: string, output?: string) => this.node('Identity', [x], {}, { outputs: output });
  where = (cond: string, a: string, b: string) => this.node('Where', [cond, a, b]);
  cast = (x: string, to: DType) => this.node('Cast', [x], { to: dtypeCode(to) });
  shape = (x: string) => this.node('Shape', [x]);

  gemm(
    a: string,
    b: string,
    c?: string,
    o: { alpha?: number; beta?: number; transA?: boolean; transB?: boolean } = {},
  ) {
    const attrs: Attrs = {
      alpha: o.alpha,
      beta: o.beta,
      transA: o.transA ? 1 : undefined,
      transB: o.transB ? 1 : undefined,
    };
    return this.node('Gemm', c ? [a, b, c] : [a, b], attrs, { floatAttrs: ['alpha', 'beta'] });
  }

  // ---- convolution and normalisation ----
  conv(x: string, w: string, bias?: string, o: ConvOptions = {}): string {
    return this.node('Conv', bias ? [x, w, bias] : [x, w], convAttrs(o));
  }

  convTranspose(x: string, w: string, bias?: string, o: ConvOptions = {}): string {
    return this.node('ConvTranspose', bias ? [x, w, bias] : [x, w], {
      ...convAttrs(o),
      output_padding: o.outputPadding,
    });
  }

  instanceNorm(x: string, scale: string, bias: string, epsilon = 1e-5): string {
    return this.node('InstanceNormalization', [x, scale, bias], { epsilon }, { floatAttrs: ['epsilon'] });
  }

  /**
   * Group normalisation over NC... input, written the way Stable Diffusion exports it:
   * Reshape [N, G, -1] -> InstanceNormalization (unit scale) -> Reshape back -> Mul scale -> Add bias.
   * `scale`/`bias` are per-channel [C] tensors; `channels` sizes the unit InstanceNorm weights.
   */
  groupNorm(
    x: string,
    scale: string,
    bias: string,
    o: { groups: number; epsilon?: number; spatialRank?: number; dtype?: DType },
  ): string {
    const dt = o.dtype ?? 'float32';
    const grouped = this.reshape(x, [0, o.groups, -1]);
    const ones = this.constant(typedArrayOf(dt, new Array(o.groups).fill(1)), [o.groups], dt);
    const zeros = this.constant(typedArrayOf(dt, new Array(o.groups).fill(0)), [o.groups], dt);
    const normed = this.instanceNorm(grouped, ones, zeros, o.epsilon ?? 1e-5);
    const back = this.node('Reshape', [normed, this.shape(x)]);
    const perChannel = [-1, ...new Array(o.spatialRank ?? 2).fill(1)];
    return this.add(this.mul(back, this.reshape(scale, perChannel)), this.reshape(bias, perChannel));
  }

  layerNorm(x: string, scale: string, bias?: string, o: { axis?: number; epsilon?: number } = {}): string {
    const inputs = bias ? [x, scale, bias] : [x, scale];
    return this.node(
      'LayerNormalization',
      inputs,
      { axis: o.axis, epsilon: o.epsilon },
      { floatAttrs: ['epsilon'] },
    );
  }

  softmax = (x: string, axis = -1) => this.node('Softmax', [x], { axis });
  logSoftmax = (x: string, axis = -1) => this.node('LogSoftmax', [x], { axis });

  // ---- shape and indexing ----
  reshape = (x: string, shape: readonly number[]) => this.node('Reshape', [x, this.int64s(shape, 'shape')]);
  transpose = (x: string, perm: readonly number[]) => this.node('Transpose', [x], { perm: [...perm] });
  concat = (xs: readonly string[], axis: number) => this.node('Concat', xs, { axis });
  expand = (x: string, shape: readonly number[]) => this.node('Expand', [x, this.int64s(shape, 'shape')]);
  gather = (x: string, indices: string, axis = 0) => this.node('Gather', [x, indices], { axis });

  split(x: string, sizes: readonly number[], axis = 0): string[] {
    return this.node('Split', [x, this.int64s(sizes, 'split')], { axis }, { outputs: sizes.length });
  }

  slice(x: string, starts: number[], ends: number[], axes?: number[], steps?: number[]): string {
    const ins = [x, this.int64s(starts, 'starts'), this.int64s(ends, 'ends')];
    if (axes || steps) ins.push(axes ? this.int64s(axes, 'axes') : '');
    if (steps) ins.push(this.int64s(steps, 'steps'));
    return this.node('Slice', ins);
  }

  squeeze = (x: string, axes: readonly number[]) => this.node('Squeeze', [x, this.int64s(axes, 'axes')]);
  unsqueeze = (x: string, axes: readonly number[]) => this.node('Unsqueeze', [x, this.int64s(axes, 'axes')]);

  /** Reductions: axes are an attribute before opset 18 (ReduceMean) and an input from 18 / ReduceSum 13. */
  reduceMean = (x: string, axes: readonly number[], keepdims = true) =>
    this.reduce('ReduceMean', x, axes, keepdims);
  reduceSum = (x: string, axes: readonly number[], keepdims = true) =>
    this.reduce('ReduceSum', x, axes, keepdims);

  reduce(op: string, x: string, axes: readonly number[], keepdims = true): string {
    const axesAsInput = op === 'ReduceSum' ? this.opset >= 13 : this.opset >= 18;
    return axesAsInput
      ? this.node(op, [x, this.int64s(axes, 'axes')], { keepdims: keepdims ? 1 : 0 })
      : this.node(op, [x], { axes: [...axes], keepdims: keepdims ? 1 : 0 });
  }

  /** Resize by per-axis scales (e.g. [1, 1, 2, 2]); nearest with floor, like SD's upsampler. */
  resize(
    x: string,
    scales: readonly number[],
    o: { mode?: string; coordinateTransformation?: string } = {},
  ): string {
    const s = this.constant(Float32Array.from(scales), [scales.length], 'float32', 'scales');
    const mode = o.mode ?? 'nearest';
    return this.node('Resize', [x, '', s], {
      mode,
      coordinate_transformation_mode: o.coordinateTransformation ?? 'asymmetric',
      nearest_mode: mode === 'nearest' ? 'floor' : undefined,
    });
  }

  // ---- output ----
  build(): onnx.ModelProto {
    const base = this.base;
    const opsetImport = base?.opsetImport?.length ? base.opsetImport : [{ domain: '', version: this.opset }];
    return onnx.ModelProto.create({
      irVersion: base?.irVersion ?? 8,
      producerName: base?.producerName ?? 'alignrun',
      opsetImport,
      graph: {
        name: this.graphName,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
        valueInfo: this.valueInfos,
      },
    });
  }

  save(path: string, options: SaveOptions = {}): onnx.ModelProto {
    const model = this.build();
    saveModel(model, path, options);
    return model;
  }
}

function convAttrs(o: ConvOptions): Attrs {
  return { strides: o.strides, pads: o.pads, dilations: o.dilations, group: o.group };
}

export function typedArrayOf(dtype: DType, values: readonly number[]): TypedArray {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(values.map((v) => BigInt(Math.trunc(v))));
    case 'int32':
      return Int32Array.from(values);
    case 'int8':
      return Int8Array.from(values);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values);
    case 'float16':
      throw new Error('float16 constants: convert with numberToFloat16Bits and pass a Uint16Array.');
  }
}
