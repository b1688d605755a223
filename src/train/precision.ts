// Converting a float32 graph to float64, so gradients can be checked in double precision.
import { GraphBuilder } from './builder';
import {
  type TensorValue,
  attrFloat,
  attrInt,
  attrString,
  dtypeCode,
  makeAttribute,
  makeTensor,
  tensorValue,
  toNumber,
} from './ir';
import { onnx } from './onnx';
import { convGeometry } from './ops/conv';
import { nearestSource } from './ops/shape';
import type { ShapeMap } from './shapes';

const F32 = dtypeCode('float32');
const F64 = dtypeCode('float64');

/** Slots that ONNX types as float32 whatever the data type (Resize scales). */
function keepFloat32(graph: onnx.IGraphProto): Set<string> {
  const keep = new Set<string>();
  for (const n of graph.node ?? []) if (n.opType === 'Resize' && n.input?.[2]) keep.add(n.input[2]);
  return keep;
}

function widen(t: onnx.ITensorProto): onnx.ITensorProto {
  if (t.dataType !== F32) return t;
  const v: TensorValue = tensorValue(t);
  return makeTensor(t.name ?? '', Float64Array.from(v.data as Float32Array), v.dims, 'float64');
}

function widenInfo(v: onnx.IValueInfoProto): onnx.IValueInfoProto {
  const tt = v.type?.tensorType;
  if (!tt || tt.elemType !== F32) return v;
  return { ...v, type: { ...v.type, tensorType: { ...tt, elemType: F64 } } };
}

/** The same graph computing in float64: weights, inputs, outputs, constants and casts widened. */
export function toFloat64(model: onnx.IModelProto): onnx.ModelProto {
  const g = model.graph ?? {};
  const keep = keepFloat32(g);
  const opset = toNumber(model.opsetImport?.find((o) => !o.domain)?.version);
  const node = (g.node ?? []).map((n) => {
    if (n.output?.some((o) => keep.has(o))) return n;
    const attribute = (n.attribute ?? []).map((a) => {
      if (a.name === 'to' && n.opType === 'Cast' && attrInt(n, 'to', 0) === F32) return { ...a, i: F64 };
      if (a.t && (n.opType === 'Constant' || n.opType === 'ConstantOfShape')) return { ...a, t: widen(a.t) };
      // Normalisations compute their statistics in stash_type (float32 by default).
      if (a.name === 'stash_type') return { ...a, i: F64 };
      return a;
    });
    // GroupNormalization has stash_type from opset 21 (an opset-18 model with it is invalid).
    const stash = n.opType === 'GroupNormalization' && opset >= 21;
    if (stash && !attribute.some((a) => a.name === 'stash_type')) {
      attribute.push({ name: 'stash_type', type: onnx.AttributeProto.AttributeType.INT, i: F64 });
    }
    return { ...n, attribute };
  });
  const graph: onnx.IGraphProto = {
    ...g,
    node,
    initializer: (g.initializer ?? []).map((t) => (keep.has(t.name ?? '') ? t : widen(t))),
    input: (g.input ?? []).map(widenInfo),
    output: (g.output ?? []).map(widenInfo),
    valueInfo: (g.valueInfo ?? []).map(widenInfo),
  };
  return onnx.ModelProto.create({ ...model, graph });
}

/**
 * The same function with float-only ops (no double kernel in onnxruntime's CPU provider) rewritten
 * in primitive ops that have one, so a float64 reference can be evaluated: InstanceNormalization,
 * Erf and, where `shapes` gives their sizes, Conv (Slices per kernel tap and a MatMul),
 * ConvTranspose (a Conv of the stride-dilated input) and nearest Resize (a Gather per axis).
 * Every other op with a gradient rule has a double kernel (LayerNormalization computes in double
 * for double input whatever its stash_type).
 * Used for the numeric side of a gradient check only; the analytic side keeps the real op.
 */
export function decomposeFloatOnly(model: onnx.IModelProto, shapes?: ShapeMap): onnx.ModelProto {
  const b = GraphBuilder.fromModel(model);
  const original = b.nodes.splice(0, b.nodes.length);
  const out: onnx.NodeProto[] = [];
  for (const n of original) {
    if (REWRITES[n.opType]?.(b, n, shapes)) out.push(...b.nodes.splice(0, b.nodes.length));
    else out.push(n);
  }
  b.nodes.push(...out);
  return b.build();
}

/** Emits `n` in ops with double kernels into `b`; returns false, emitting nothing, where it cannot. */
type Rewrite = (b: GraphBuilder, n: onnx.NodeProto, shapes: ShapeMap | undefined) => boolean;

/** Dims of `n`'s inputs at `inputs` and of its first output, where all are known. */
function knownDims(n: onnx.NodeProto, shapes: ShapeMap | undefined, inputs: number[]) {
  const dims = [...inputs.map((i) => n.input[i]), n.output[0]].map((t) => shapes?.get(t)?.dims);
  return dims.every((d) => d !== undefined) ? dims : undefined;
}

const REWRITES: Record<string, Rewrite> = {
  InstanceNormalization: (b, n) => {
    instanceNormInPrimitives(b, n);
    return true;
  },
  Erf: (b, n) => {
    erfSeries(b, n);
    return true;
  },
  Conv: (b, n, shapes) => {
    const d = knownDims(n, shapes, [0, 1]);
    if (d) convAsMatMul(b, n, d[0], d[1], d[2]);
    return d !== undefined;
  },
  ConvTranspose: (b, n, shapes) => {
    const d = knownDims(n, shapes, [0, 1]);
    if (d) convTransposeAsConv(b, n, d[0], d[1], d[2]);
    return d !== undefined;
  },
  Resize: (b, n, shapes) => {
    const d = attrString(n, 'mode', 'nearest') === 'nearest' ? knownDims(n, shapes, [0]) : undefined;
    if (d) resizeAsGather(b, n, d[0], d[1], shapes?.get(n.input[2] ?? '')?.value);
    return d !== undefined;
  },
};

const f64 = (b: GraphBuilder, v: number) => b.constant(v, [], 'float64');

/** InstanceNormalization: [N, C, ...] viewed as [N, C, S], normalised over S, whatever the rank. */
function instanceNormInPrimitives(b: GraphBuilder, n: onnx.NodeProto) {
  const [x, scale, bias] = n.input;
  const flat = b.reshape(x, [0, 0, -1]);
  const xc = b.sub(flat, b.reduceMean(flat, [2], true));
  const variance = b.reduceMean(b.mul(xc, xc), [2], true);
  const xhat = b.div(xc, b.sqrt(b.add(variance, f64(b, attrFloat(n, 'epsilon', 1e-5)))));
  const y = b.add(b.mul(xhat, b.reshape(scale, [-1, 1])), b.reshape(bias, [-1, 1]));
  b.node('Reshape', [y, b.shape(x)], {}, { outputs: n.output[0] });
}

/** Terms of the erf series: enough at |x| = ERF_CLIP, where it converges slowest. */
const ERF_TERMS = 100;
/** |x| from which erf(x) rounds to +-1 in double (erfc(6) = 2.2e-17). */
const ERF_CLIP = 6;

/**
 * erf(x) = 2/sqrt(pi) x exp(-x^2) sum_k (2x^2)^k / (1*3*...*(2k+1)), a series of positive terms
 * (no cancellation at any x), over ERF_TERMS terms, x clipped to +-ERF_CLIP. Horner runs in
 * w = x^2 / 64 (exact) so that no coefficient is below float32's range: onnxruntime's optimiser
 * drops an Add of a double constant that rounds to 0 in float32 (1e-60 say), as if it were 0.
 * Within 2e-15 relative of 50-digit values over [-6, 6] (test/train/precision.test.ts).
 */
function erfSeries(b: GraphBuilder, n: onnx.NodeProto) {
  const x = b.node('Max', [b.node('Min', [n.input[0], f64(b, ERF_CLIP)]), f64(b, -ERF_CLIP)]);
  const z = b.mul(x, x);
  // c_k = 2^k / (1*3*...*(2k+1)) * 64^k, from 1 up to 3e25.
  const coef = [1];
  for (let k = 1; k < ERF_TERMS; k++) coef.push((coef[k - 1] * 128) / (2 * k + 1));
  const w = b.mul(z, f64(b, 1 / 64));
  let sum = f64(b, coef[ERF_TERMS - 1]);
  for (let k = ERF_TERMS - 2; k >= 0; k--) sum = b.add(b.mul(sum, w), f64(b, coef[k]));
  const y = b.mul(b.mul(x, b.exp(b.neg(z))), sum);
  b.node('Mul', [y, f64(b, 2 / Math.sqrt(Math.PI))], {}, { outputs: n.output[0] });
}

/** y = Conv(x, W, bias) as im2col: strided Slices of the padded input per tap, Concat, one MatMul. */
function convAsMatMul(b: GraphBuilder, n: onnx.NodeProto, xDims: number[], wDims: number[], yDims: number[]) {
  const [x, w, bias] = n.input;
  const geo = convGeometry(n, xDims, wDims, yDims, false);
  const [N, cin] = xDims;
  const cout = wDims[0];
  const G = geo.group;
  const sp = xDims.length - 2;
  const outSp = yDims.slice(2);
  const P = outSp.reduce((a, d) => a * d, 1);
  const axes = Array.from({ length: sp }, (_, i) => i + 2);
  const xp = b.node('Pad', [x, b.int64s([0, 0, ...geo.padsBegin, 0, 0, ...geo.padsEnd])], {
    mode: 'constant',
  });
  let offsets: number[][] = [[]];
  for (const k of geo.kernel)
    offsets = offsets.flatMap((o) => Array.from({ length: k }, (_, i) => [...o, i]));
  const taps = offsets.map((off) => {
    const starts = off.map((k, i) => k * geo.dilations[i]);
    const ends = starts.map((s, i) => s + (outSp[i] - 1) * geo.strides[i] + 1);
    return b.reshape(b.slice(xp, starts, ends, axes, geo.strides), [N, cin, 1, P]);
  });
  const cols = b.reshape(b.concat(taps, 2), [N, G, (cin / G) * taps.length, P]);
  const wr = b.reshape(w, [G, cout / G, (cin / G) * taps.length]);
  let y = b.reshape(b.matmul(wr, cols), yDims);
  if (bias) y = b.add(y, b.reshape(bias, [cout, ...axes.map(() => 1)]));
  b.node('Identity', [y], {}, { outputs: n.output[0] });
}

/**
 * y = ConvTranspose(x, W, bias) as a Conv, evaluated by convAsMatMul: x dilated by the stride
 * (s-1 zeros after each value), W with its channel axes exchanged per group and flipped in space,
 * padded by the kernel span less the transposed pads at the start and to the output size at the
 * end (negative pads crop).
 */
function convTransposeAsConv(
  b: GraphBuilder,
  n: onnx.NodeProto,
  xDims: number[],
  wDims: number[],
  yDims: number[],
) {
  const [x, w, bias] = n.input;
  const geo = convGeometry(n, xDims, wDims, yDims, true);
  const [N, cin] = xDims;
  const K = geo.kernel;
  const G = geo.group;
  const cig = cin / G;
  const cog = wDims[1];
  const inSp = xDims.slice(2);
  const dilated = inSp.map((d, i) => d * geo.strides[i]);
  const spatial = K.map((_, i) => i + 2);
  let xd = x;
  if (geo.strides.some((s) => s !== 1)) {
    // [N, C, I1, I2] -> [N, C, I1, 1, I2, 1] -> zero-pad the unit axes to s -> [N, C, I1*s1, I2*s2]
    const inter = inSp.flatMap((d) => [d, 1]);
    const pads = [0, 0, ...inter.map(() => 0), 0, 0, ...geo.strides.flatMap((s) => [0, s - 1])];
    const padded = b.node('Pad', [b.reshape(x, [N, cin, ...inter]), b.int64s(pads)], { mode: 'constant' });
    xd = b.reshape(padded, [N, cin, ...dilated]);
  }
  // W [G*cig, cog, K] -> [G, cig, cog, K] -> [G, cog, cig, K] -> [G*cog, cig, K], flipped in space.
  const grouped = b.reshape(w, [G, cig, cog, ...K]);
  const wt = b.reshape(b.transpose(grouped, [0, 2, 1, ...spatial.map((a) => a + 1)]), [G * cog, cig, ...K]);
  const flipped = b.slice(
    wt,
    K.map(() => -1),
    K.map(() => Number.MIN_SAFE_INTEGER),
    spatial,
    K.map(() => -1),
  );
  const span = K.map((k, i) => (k - 1) * geo.dilations[i]);
  const padB = span.map((s, i) => s - geo.padsBegin[i]);
  const padE = yDims.slice(2).map((y, i) => y + span[i] - dilated[i] - padB[i]);
  const conv = onnx.NodeProto.create({
    opType: 'Conv',
    input: bias ? [xd, flipped, bias] : [xd, flipped],
    output: n.output,
    attribute: [
      makeAttribute('dilations', geo.dilations),
      makeAttribute('pads', [...padB, ...padE]),
      makeAttribute('group', G),
    ],
  });
  convAsMatMul(b, conv, [N, cin, ...dilated], [G * cog, cig, ...K], yDims);
}

/** A nearest-mode Resize as one Gather per resized axis, with the source indices it picks. */
function resizeAsGather(
  b: GraphBuilder,
  n: onnx.NodeProto,
  inDims: number[],
  outDims: number[],
  scales: TensorValue | undefined,
) {
  const ctm = attrString(n, 'coordinate_transformation_mode', 'half_pixel');
  const nm = attrString(n, 'nearest_mode', 'round_prefer_floor');
  let y = n.input[0];
  inDims.forEach((inSize, a) => {
    const outSize = outDims[a];
    const scale = scales && scales.data.length > a ? Number(scales.data[a]) : outSize / inSize;
    const src = Array.from({ length: outSize }, (_, i) => nearestSource(i, scale, inSize, outSize, ctm, nm));
    if (outSize !== inSize || src.some((v, i) => v !== i)) y = b.gather(y, b.int64s(src), a);
  });
  b.node('Identity', [y], {}, { outputs: n.output[0] });
}
