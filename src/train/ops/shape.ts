// Gradient rules for ops that move, select or copy values: the gradient puts each value back
// where it came from (and sums where one value was copied to several places).
import { attrInt, attrInts, attrString } from '../ir';
import type { GradContext, GradRule } from './context';

const reshapeBack: GradRule = ({ input: [x] }, [g], c) => [c.b.reshape(g!, c.shape(x!))];

export const shapeRules: Record<string, GradRule> = {
  Reshape: reshapeBack,
  Flatten: reshapeBack,
  Squeeze: reshapeBack,
  Unsqueeze: reshapeBack,

  Transpose: (n, [g], c) => {
    const rank = c.rank(n.input![0]);
    const perm = attrInts(n, 'perm') ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
    const inverse = new Array<number>(rank);
    perm.forEach((p, i) => (inverse[p] = i));
    return [c.b.transpose(g!, inverse)];
  },

  Concat: (n, [g], c) => {
    const ins = n.input!;
    const axis = normAxis(attrInt(n, 'axis', 0), c.rank(ins[0]));
    const sizes = ins.map((x) => c.shape(x)[axis]);
    return ins.length === 1 ? [g] : c.b.split(g!, sizes, axis);
  },

  Split: (n, gy, c) => {
    const x = n.input![0];
    const axis = normAxis(attrInt(n, 'axis', 0), c.rank(x));
    const parts = n.output!.map((o, i) => gy[i] ?? c.zerosLike(o));
    return [parts.length === 1 ? parts[0] : c.b.concat(parts, axis)];
  },

  Expand: ({ input: [x], output: [y] }, [g], c) => [c.unbroadcastTo(g!, y!, x!)],

  Slice: (n, [g], c) => {
    const [x, starts, ends, axesIn, stepsIn] = n.input!;
    const dims = c.shape(x);
    const s = c.ints(starts, 'starts');
    const e = c.ints(ends, 'ends');
    const axes = axesIn ? c.ints(axesIn, 'axes').map((a) => normAxis(a, dims.length)) : s.map((_, i) => i);
    const steps = stepsIn ? c.ints(stepsIn, 'steps') : s.map(() => 1);
    const picks = dims.map((d) => Array.from({ length: d }, (_, i) => i));
    axes.forEach((a, i) => (picks[a] = sliceIndices(s[i], e[i], steps[i], dims[a])));
    if (steps.every((st) => st === 1)) {
      // Contiguous: pad the gradient back with zeros.
      const pads = [...picks.map((p) => p[0] ?? 0), ...picks.map((p, a) => dims[a] - (p[0] ?? 0) - p.length)];
      return [c.b.node('Pad', [g!, c.b.int64s(pads, 'pads')], { mode: 'constant' })];
    }
    let acc = g!;
    picks.forEach((p, a) => {
      if (p.length !== dims[a] || p.some((v, i) => v !== i)) acc = scatterAxis(c, acc, a, p, dims[a]);
    });
    return [acc];
  },

  Pad: (n, [g], c) => {
    const x = n.input![0];
    if (attrString(n, 'mode', 'constant') !== 'constant')
      c.fail('only constant-mode Pad has a gradient rule.');
    const dims = c.shape(x);
    const pads = n.input![1] ? c.ints(n.input![1], 'pads') : (attrInts(n, 'pads') ?? []);
    const starts = dims.map((_, a) => pads[a]);
    return [
      c.b.slice(
        g!,
        starts,
        starts.map((st, a) => st + dims[a]),
      ),
    ];
  },

  Gather: (n, [g], c) => {
    const [data, indices] = n.input!;
    const D = c.shape(data);
    const I = c.shape(indices);
    const a = normAxis(attrInt(n, 'axis', 0), D.length);
    const q = I.length;
    const rest = [...D.slice(0, a), ...D.slice(a + 1)];
    // Move the index dims of g to the front: g' has shape I + D[:a] + D[a+1:].
    const perm = [
      ...Array.from({ length: q }, (_, i) => a + i),
      ...Array.from({ length: a }, (_, i) => i),
      ...Array.from({ length: D.length - a - 1 }, (_, i) => a + q + i),
    ];
    const gp = perm.every((p, i) => p === i) ? g! : c.b.transpose(g!, perm);
    let idx = c.b.cast(indices, 'int64');
    // Scalars (rank 0) so that scalar indices keep their rank.
    const dim = c.b.constant(BigInt64Array.of(BigInt(D[a])), [], 'int64');
    const zero = c.b.constant(BigInt64Array.of(0n), [], 'int64');
    idx = c.b.where(c.b.node('Less', [idx, zero]), c.b.add(idx, dim), idx);
    let moved: string;
    if (c.b.opset >= 16) {
      const zeros = c.b.expand(c.scalar(0, data), [D[a], ...rest]);
      moved = c.b.node('ScatterND', [zeros, c.b.unsqueeze(idx, [-1]), gp], { reduction: 'add' });
    } else {
      // ScatterND accumulates only from opset 16: contract with a one-hot matrix instead.
      const qn = I.reduce((s, d) => s * d, 1);
      const values = c.b.concat(
        [c.scalar(0, data), c.scalar(1, data)].map((v) => c.b.reshape(v, [1])),
        0,
      );
      const oneHot = c.b.node('OneHot', [c.b.reshape(idx, [qn]), c.b.int64s([D[a]]), values], { axis: -1 });
      const flat = c.b.reshape(gp, [qn, rest.reduce((s, d) => s * d, 1)]);
      moved = c.b.reshape(c.b.matmul(c.b.transpose(oneHot, [1, 0]), flat), [D[a], ...rest]);
    }
    // moved has axis order [a, 0..a-1, a+1..]: put axis a back in place.
    const back = Array.from({ length: D.length }, (_, j) => (j < a ? j + 1 : j === a ? 0 : j));
    return [back.every((p, i) => p === i) ? moved : c.b.transpose(moved, back), undefined];
  },

  Resize: (n, [g], c) => {
    const [x, , scalesIn] = n.input!;
    const y = n.output![0];
    if (attrString(n, 'mode', 'nearest') !== 'nearest') c.fail('only mode "nearest" has a gradient rule.');
    const inDims = c.shape(x);
    const outDims = c.shape(y);
    const scales =
      scalesIn && c.value(scalesIn) && c.numel(scalesIn) > 0 ? c.ints(scalesIn, 'scales') : undefined;
    const ctm = attrString(n, 'coordinate_transformation_mode', 'half_pixel');
    const nm = attrString(n, 'nearest_mode', 'round_prefer_floor');
    let acc = g!;
    inDims.forEach((inSize, a) => {
      const outSize = outDims[a];
      const scale = scales ? scales[a] : outSize / inSize;
      const src = Array.from({ length: outSize }, (_, i) =>
        nearestSource(i, scale, inSize, outSize, ctm, nm),
      );
      if (outSize !== inSize || src.some((v, i) => v !== i)) acc = scatterAxis(c, acc, a, src, inSize);
    });
    return [acc];
  },
};

export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Indices ONNX Slice picks along one axis (with its clamping rules). */
export function sliceIndices(start: number, end: number, step: number, dim: number): number[] {
  if (step === 0) throw new Error('Slice step 0 is invalid.');
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), dim);
    e = Math.min(Math.max(e, 0), dim);
  } else {
    s = Math.min(Math.max(s, 0), dim - 1);
    e = Math.min(Math.max(e, -1), dim - 1);
  }
  const out: number[] = [];
  for (let i = s; step > 0 ? i < e : i > e; i += step) out.push(i);
  return out;
}

/**
 * Sends gradient values at output positions back to their source positions along one axis,
 * summing repeats: a contraction with the one-hot matrix M[out, in] = (src[out] == in).
 */
function scatterAxis(c: GradContext, g: string, axis: number, src: number[], inSize: number): string {
  const dt = c.floatType(c.node.input![0]);
  const m = dt === 'float64' ? new Float64Array(src.length * inSize) : new Float32Array(src.length * inSize);
  src.forEach((j, i) => (m[i * inSize + j] = 1));
  const matrix = c.b.constant(m, [src.length, inSize], dt, 'scatter');
  const rank = c.rank(c.node.input![0]);
  if (axis === rank - 1) return c.b.matmul(g, matrix);
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[axis] = rank - 1;
  perm[rank - 1] = axis;
  return c.b.transpose(c.b.matmul(c.b.transpose(g, perm), matrix), perm);
}

/** Source index of output position i along one axis of a nearest-mode Resize. */
export function nearestSource(
  i: number,
  scale: number,
  inSize: number,
  outSize: number,
  ctm: string,
  nm: string,
): number {
  let x: number;
  switch (ctm) {
    case 'asymmetric':
      x = i / scale;
      break;
    case 'align_corners':
      x = outSize === 1 ? 0 : (i * (inSize - 1)) / (outSize - 1);
      break;
    case 'pytorch_half_pixel':
      x = outSize > 1 ? (i + 0.5) / scale - 0.5 : 0;
      break;
    case 'tf_half_pixel_for_nearest':
      x = (i + 0.5) / scale;
      break;
    default:
      x = (i + 0.5) / scale - 0.5;
  }
  let j: number;
  const frac = x - Math.floor(x);
  switch (nm) {
    case 'floor':
      j = Math.floor(x);
      break;
    case 'ceil':
      j = Math.ceil(x);
      break;
    case 'round_prefer_ceil':
      j = frac === 0.5 ? Math.ceil(x) : Math.round(x);
      break;
    default:
      j = frac === 0.5 ? Math.floor(x) : Math.round(x);
  }
  return Math.min(Math.max(j, 0), inSize - 1);
}
