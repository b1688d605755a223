// LoRA: low-rank adapters on MatMul / Gemm / Conv weights (Hu et al. 2021).
// W_eff = W + (alpha / r) * dW with dW = (B A) reshaped to W's layout; A: r x in (random, scaled
// 1/sqrt(in)), B: out x r (zero), so an adapted model starts out equal to the base. The base
// weights stay frozen initializers; only A and B are trainable. mergeLora folds dW into W.
import { GraphBuilder } from './builder';
import { attrInt, makeTensor, tensorValue } from './ir';
import type { onnx } from './onnx';
import { Rng } from './rng';

export interface LoraOptions {
  /** Which weights get adapters: a RegExp or predicate on initializer names. */
  match: RegExp | ((name: string) => boolean);
  rank: number;
  /** Scale numerator: the update is multiplied by alpha / rank (default alpha = rank). */
  alpha?: number;
  seed?: number;
}

export interface LoraAdapter {
  /** The base weight the adapter updates. */
  target: string;
  kind: 'MatMul' | 'Gemm' | 'Conv';
  a: string;
  b: string;
  rank: number;
  scale: number;
  /** Gemm with transB: W is [out, in]. */
  transposed: boolean;
  /** Nodes the adapter added, and the base node's output it re-routed (for merging). */
  nodes: string[];
  output: string;
  baseOutput: string;
}

export interface LoraModel {
  model: onnx.ModelProto;
  adapters: LoraAdapter[];
  /** The adapter weights: pass as `trainable` to the engine or trainer. */
  trainable: string[];
}

export function addLora(model: onnx.IModelProto, options: LoraOptions): LoraModel {
  const matches =
    typeof options.match === 'function' ? options.match : (n: string) => (options.match as RegExp).test(n);
  const rng = new Rng(options.seed ?? 0);
  const b = GraphBuilder.fromModel(model);
  const weights = new Map(b.initializers.map((t) => [t.name, t]));
  const original = b.nodes.splice(0, b.nodes.length);
  const adapters: LoraAdapter[] = [];
  const r = options.rank;
  const scale = (options.alpha ?? r) / r;
  for (const node of original) {
    b.nodes.push(node);
    const w = node.input[1];
    const kind = node.opType as LoraAdapter['kind'];
    if (!['MatMul', 'Gemm', 'Conv'].includes(kind) || !weights.has(w) || !matches(w)) continue;
    const dims = tensorValue(weights.get(w)!).dims;
    if (kind === 'Conv' && attrInt(node, 'group', 1) !== 1) continue; // grouped convs keep their weights
    if (kind === 'Gemm' && attrInt(node, 'transA', 0) === 1) continue;
    if (kind !== 'Conv' && dims.length !== 2) continue;
    const transposed = kind === 'Gemm' && attrInt(node, 'transB', 0) === 1;
    const [inF, outF] =
      kind === 'Conv'
        ? [dims.slice(1).reduce((s, d) => s * d, 1), dims[0]]
        : transposed
          ? [dims[1], dims[0]]
          : dims;
    const aDims = kind === 'Conv' ? [r, ...dims.slice(1)] : [r, inF];
    const bDims = kind === 'Conv' ? [outF, r, ...dims.slice(2).map(() => 1)] : [outF, r];
    const aData = rng.fillUniform(
      new Float32Array(r * inF),
      -1 / Math.sqrt(inF),
      1 / Math.sqrt(inF),
    ) as Float32Array;
    const a = addWeight(b, `${w}.lora_A`, aData, aDims);
    const bw = addWeight(b, `${w}.lora_B`, new Float32Array(outF * r), bDims);
    const before = b.nodes.length;
    const output = node.output[0];
    const baseOutput = b.fresh(`${output}.base`);
    node.output[0] = baseOutput;
    const x = node.input[0];
    let delta: string;
    if (kind === 'Conv') {
      // A as a conv with the base geometry, then B as a 1x1 conv.
      const geometry = node.attribute.filter((at) =>
        ['strides', 'pads', 'dilations', 'auto_pad'].includes(at.name ?? ''),
      );
      const low = b.node('Conv', [x, a]);
      b.nodes[b.nodes.length - 1].attribute.push(...geometry);
      delta = b.conv(low, bw);
    } else {
      delta = b.matmul(b.matmul(x, b.transpose(a, [1, 0])), b.transpose(bw, [1, 0]));
    }
    const alphaGemm = kind === 'Gemm' ? (node.attribute.find((at) => at.name === 'alpha')?.f ?? 1) : 1;
    const scaled = b.mul(delta, b.constant(scale * alphaGemm));
    b.node('Add', [baseOutput, scaled], {}, { outputs: output });
    const nodes = b.nodes.slice(before).map((n) => n.name);
    adapters.push({ target: w, kind, a, b: bw, rank: r, scale, transposed, nodes, output, baseOutput });
  }
  if (adapters.length === 0)
    throw new Error(`No MatMul/Gemm/Conv weight matches ${String(options.match)}; check the pattern.`);
  return { model: b.build(), adapters, trainable: adapters.flatMap((ad) => [ad.a, ad.b]) };
}

/**
 * Folds trained adapters into their base weights and removes the adapter nodes: the result has the
 * base model's structure. `model` is the adapted model with its current A/B values (e.g. from
 * Trainer.exportModel()).
 */
export function mergeLora(model: onnx.IModelProto, adapters: LoraAdapter[]): onnx.ModelProto {
  const b = GraphBuilder.fromModel(model);
  const values = new Map(b.initializers.map((t) => [t.name, t]));
  const drop = new Set(adapters.flatMap((ad) => ad.nodes));
  const adapterWeights = new Set(adapters.flatMap((ad) => [ad.a, ad.b]));
  const rename = new Map(adapters.map((ad) => [ad.baseOutput, ad.output]));
  const merged = new Map<string, onnx.TensorProto>();
  for (const ad of adapters) {
    const w = tensorValue(values.get(ad.target)!);
    const A = tensorValue(values.get(ad.a)!).data as Float32Array;
    const B = tensorValue(values.get(ad.b)!).data as Float32Array;
    const W = Float32Array.from(w.data as Float32Array);
    const r = ad.rank;
    const inF = A.length / r;
    const outF = B.length / r;
    for (let o = 0; o < outF; o++) {
      for (let i = 0; i < inF; i++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += B[o * r + k] * A[k * inF + i];
        // Conv and transB Gemm store W as [out, in...]; MatMul and plain Gemm as [in, out].
        const at = ad.kind === 'Conv' || ad.transposed ? o * inF + i : i * outF + o;
        W[at] += ad.scale * s;
      }
    }
    merged.set(ad.target, makeTensor(ad.target, W, w.dims));
  }
  const nodes = b.nodes.filter((n) => !drop.has(n.name));
  for (const n of nodes) n.output = n.output.map((o) => rename.get(o) ?? o);
  b.nodes.splice(0, b.nodes.length, ...nodes);
  const inits = b.initializers.filter((t) => !adapterWeights.has(t.name)).map((t) => merged.get(t.name) ?? t);
  b.initializers.splice(0, b.initializers.length, ...inits);
  return b.build();
}

function addWeight(b: GraphBuilder, hint: string, data: Float32Array, dims: number[]): string {
  const name = b.fresh(hint);
  b.initializers.push(makeTensor(name, data, dims));
  return name;
}
