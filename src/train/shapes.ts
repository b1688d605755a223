// Static shapes for the backward pass, measured by running the forward graph once.
//
// Gradient rules need static shapes (to unbroadcast, to pad a Slice back, to size a transposed
// conv). onnxruntime-node exposes no shape-inference API, and a hand-written inference for every
// op — including the Shape->Gather->Concat chains exporters emit — would be a second ONNX
// implementation. So the engine asks onnxruntime itself: it runs the forward graph once on zero
// inputs of the given sizes with every intermediate exposed, and records each tensor's dtype and
// dims (and the values of small integer tensors, such as computed Slice bounds). The cost is one
// forward pass holding all activations, which a training step needs anyway.
import type * as ort from 'onnxruntime-node';
import { onnx } from './onnx';
import {
  type DType,
  type TensorValue,
  emptyTyped,
  numel,
  tensorValue,
  valueInfoDims,
  valueInfoDtype,
} from './ir';
import { createSession, fromOrt, toOrt } from './session';

export interface TensorInfo {
  dtype: DType;
  dims: number[];
  /** Values of small tensors that do not depend on graph inputs (shapes, axes, scales). */
  value?: TensorValue;
}

export type ShapeMap = Map<string, TensorInfo>;

const SMALL = 64;

/**
 * Dtype and dims of every tensor in the graph. `inputShapes` fixes graph inputs whose dims are
 * symbolic (e.g. batch); inputs with static dims need no entry.
 */
export async function inferShapes(
  model: onnx.IModelProto,
  inputShapes: Record<string, readonly number[]> = {},
): Promise<ShapeMap> {
  const g = model.graph ?? {};
  const info: ShapeMap = new Map();
  const initNames = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  for (const t of g.initializer ?? []) {
    const v = tensorValue(t);
    info.set(t.name ?? '', { dtype: v.dtype, dims: v.dims, value: isSmall(v) ? v : undefined });
  }
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of g.input ?? []) {
    const name = input.name ?? '';
    if (initNames.has(name)) continue;
    const dims = inputShapes[name] ? [...inputShapes[name]] : valueInfoDims(input);
    if (!dims || dims.some((d) => d < 0)) {
      throw new Error(
        `Graph input '${name}' has no static shape; pass its dims in inputShapes (e.g. { ${name}: [1, 4, 32, 32] }).`,
      );
    }
    const dtype = valueInfoDtype(input);
    info.set(name, { dtype, dims });
    feeds[name] = toOrt({ dtype, dims, data: emptyTyped(dtype, numel(dims)) });
  }
  const known = new Set(info.keys());
  const probeNames: string[] = [];
  for (const n of g.node ?? []) for (const o of n.output ?? []) if (o && !known.has(o)) probeNames.push(o);
  const probe: onnx.IModelProto = {
    ...model,
    graph: {
      ...g,
      input: (g.input ?? []).filter((i) => !initNames.has(i.name ?? '')),
      output: [...new Set(probeNames)].map((name) => onnx.ValueInfoProto.create({ name })),
      valueInfo: [],
    },
  };
  let session: ort.InferenceSession;
  try {
    session = await createSession(probe);
  } catch (e) {
    throw new Error(
      `onnxruntime could not load the forward graph to measure its shapes: ${(e as Error).message}`,
    );
  }
  try {
    const out = await session.run(feeds);
    const fixed = dataIndependent(g, initNames);
    for (const [name, t] of Object.entries(out)) {
      const v = fromOrt(t);
      info.set(name, {
        dtype: v.dtype,
        dims: v.dims,
        value: fixed.has(name) && isSmall(v) ? copy(v) : undefined,
      });
    }
  } finally {
    await session.release();
  }
  return info;
}

function isSmall(v: TensorValue): boolean {
  return numel(v.dims) <= SMALL;
}

/** Tensors whose values the zero-input probe gets right: from constants and shapes only. */
function dataIndependent(g: onnx.IGraphProto, initNames: Set<string>): Set<string> {
  const fixed = new Set(initNames);
  for (const n of g.node ?? []) {
    const op = n.opType ?? '';
    const ins = (n.input ?? []).filter((i) => i);
    if (op === 'Shape' || op === 'Size' || (!op.startsWith('Random') && ins.every((i) => fixed.has(i)))) {
      for (const o of n.output ?? []) fixed.add(o);
    }
  }
  return fixed;
}

function copy(v: TensorValue): TensorValue {
  return { dtype: v.dtype, dims: [...v.dims], data: v.data.slice() };
}
