// Converting a float32 graph to float64, so gradients can be checked in double precision.
import { GraphBuilder } from './builder';
import { type TensorValue, attrFloat, attrInt, attrString, dtypeCode, makeTensor, tensorValue } from './ir';
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
  const node = (g.node ?? []).map((n) => {
    if (n.output?.some((o) => keep.has(o))) return n;
    const attribute = (n.attribute ?? []).map((a) => {
      if (a.name === 'to' && n.opType === 'Cast' && attrInt(n, 'to', 0) === F32) return { ...a, i: F64 };
      if (a.t && (n.opType === 'Constant' || n.opType === 'ConstantOfShape')) return { ...a, t: widen(a.t) };
      // Normalisations compute their statistics in stash_type (float32 by default).
      if (a.name === 'stash_type') return { ...a, i: F64 };
      return a;
    });
    if (n.opType === 'GroupNormalization' && !attribute.some((a) => a.name === 'stash_type')) {
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
 * and, where `shapes` gives their sizes, Conv (Slices per kernel tap and a MatMul) and nearest
 * Resize (a Gather per axis).
 * Used for the numeric side of a gradient check only; the analytic side keeps the real op.
 */
export function decomposeFloatOnly(model: onnx.IModelProto, shapes?: ShapeMap): onnx.ModelProto {
  const b = GraphBuilder.fromModel(model);
  const original = b.nodes.splice(0, b.nodes.length);
  const out: onnx.NodeProto[] = [];
  for (const n of original) {
    const dims = (t: string | undefined) => (t ? shapes?.get(t)?.dims : undefined);
    if (n.opType === 'Conv' && dims(n.input[0]) && dims(n.input[1]) && dims(n.output[0])) {
      convAsMatMul(b, n, dims(n.input[0])!, dims(n.input[1])!, dims(n.output[0])!);
      out.push(...b.nodes.splice(0, b.nodes.length));
      continue;
    }
    if (n.opType === 'Resize' && dims(n.input[0]) && dims(n.output[0]) && nearest(n)) {
      resizeAsGather(b, n, dims(n.input[0])!, dims(n.output[0])!, shapes?.get(n.input[2] ?? '')?.value);
      out.push(...b.nodes.splice(0, b.nodes.length));
      continue;
    }
    if (n.opType !== 'InstanceNormalization') {
      out.push(n);
      continue;
    }
    const [x, scale, bias] = n.input;
    const eps = attrFloat(n, 'epsilon', 1e-5);
    // [N, C, ...] viewed as [N, C, S], normalised over S, whatever the rank.
    const flat = b.reshape(x, [0, 0, -1]);
    const xc = b.sub(flat, b.reduceMean(flat, [2], true));
    const variance = b.reduceMean(b.mul(xc, xc), [2], true);
    const epsilon = b.constant(Float64Array.of(eps), [], 'float64');
    const xhat = b.div(xc, b.sqrt(b.add(variance, epsilon)));
    const y = b.add(b.mul(xhat, b.reshape(scale, [-1, 1])), b.reshape(bias, [-1, 1]));
    b.node('Reshape', [y, b.shape(x)], {}, { outputs: n.output[0] });
    out.push(...b.nodes.splice(0, b.nodes.length));
  }
  b.nodes.push(...out);
  return b.build();
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

const nearest = (n: onnx.INodeProto) => attrString(n, 'mode', 'nearest') === 'nearest';

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
