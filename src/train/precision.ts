// Converting a float32 graph to float64, so gradients can be checked in double precision.
import { GraphBuilder } from './builder';
import { type TensorValue, attrFloat, attrInt, dtypeCode, makeTensor, tensorValue } from './ir';
import { onnx } from './onnx';

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
 * in primitive ops that have one, so a float64 reference can be evaluated: InstanceNormalization.
 * Used for the numeric side of a gradient check only; the analytic side keeps the real op.
 */
export function decomposeFloatOnly(model: onnx.IModelProto): onnx.ModelProto {
  const b = GraphBuilder.fromModel(model);
  const original = b.nodes.splice(0, b.nodes.length);
  const out: onnx.NodeProto[] = [];
  for (const n of original) {
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
