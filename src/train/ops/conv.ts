// Gradient rules for Conv and ConvTranspose (any spatial rank, stride, padding, dilation, groups).
//
// Conv:          dx = ConvTranspose(g, W)  (same strides/pads/dilations/group; output_padding
//                     restores the input size lost to stride rounding)
//                dW = a grouped Conv of x with g, batch and channel axes swapped, strides and
//                     dilations exchanged (weightGrad below)
// ConvTranspose: it is the adjoint of Conv with the same weight, so dx = Conv(g, W) and
//                dW = weightGrad with the roles of x and g exchanged.
import { attrInt, attrInts, attrString } from '../ir';
import type { GradContext, GradRule } from './context';

interface Geometry {
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
  group: number;
  kernel: number[];
}

function geometry(n: Parameters<GradRule>[0], c: GradContext, transposed: boolean): Geometry {
  const x = n.input![0];
  const w = n.input![1];
  const xs = c.shape(x).slice(2);
  const kernel = c.shape(w).slice(2);
  const r = kernel.length;
  const strides = attrInts(n, 'strides') ?? kernel.map(() => 1);
  const dilations = attrInts(n, 'dilations') ?? kernel.map(() => 1);
  const group = attrInt(n, 'group', 1);
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  let pads = attrInts(n, 'pads') ?? new Array(2 * r).fill(0);
  const outputShape = transposed ? attrInts(n, 'output_shape') : undefined;
  if (autoPad === 'VALID') pads = new Array(2 * r).fill(0);
  else if (autoPad.startsWith('SAME') || outputShape) {
    // Total padding from the measured sizes; SAME_UPPER puts the odd one at the end.
    const ys = c.shape(n.output![0]).slice(2);
    const upper = autoPad !== 'SAME_LOWER';
    const begin: number[] = [];
    const end: number[] = [];
    for (let i = 0; i < r; i++) {
      const span = (kernel[i] - 1) * dilations[i] + 1;
      const total = transposed
        ? strides[i] * (xs[i] - 1) + (attrInts(n, 'output_padding')?.[i] ?? 0) + span - ys[i]
        : Math.max(0, (ys[i] - 1) * strides[i] + span - xs[i]);
      const small = Math.floor(total / 2);
      begin.push(upper ? small : total - small);
      end.push(upper ? total - small : small);
    }
    pads = [...begin, ...end];
  }
  return { strides, dilations, padsBegin: pads.slice(0, r), padsEnd: pads.slice(r), group, kernel };
}

/**
 * dL/dW for y = Conv(input, W): W[co, ci, k] = sum_{n,o} input[n, ci, o*s + k*d - p] g[n, co, o].
 * Computed as one grouped Conv where the batch axis plays the channel role.
 */
function weightGrad(
  c: GradContext,
  input: string,
  inDims: number[],
  g: string,
  gDims: number[],
  geo: Geometry,
  wDims: number[],
): string {
  const b = c.b;
  const [n, cin] = inDims;
  const cout = gDims[1];
  const G = geo.group;
  const cig = cin / G;
  const cog = cout / G;
  const sp = inDims.length - 2;
  const tail = Array.from({ length: sp }, (_, i) => i + 3);
  // input: [N, G, cig, S] -> [cig, G, N, S] -> [cig, G*N, S]
  const xr = b.reshape(b.transpose(b.reshape(input, [n, G, cig, ...inDims.slice(2)]), [2, 1, 0, ...tail]), [
    cig,
    G * n,
    ...inDims.slice(2),
  ]);
  // g: [N, G, cog, O] -> [G, cog, N, O] -> [G*cog, N, O]
  const gr = b.reshape(b.transpose(b.reshape(g, [n, G, cog, ...gDims.slice(2)]), [1, 2, 0, ...tail]), [
    G * cog,
    n,
    ...gDims.slice(2),
  ]);
  const full = b.conv(xr, gr, undefined, {
    strides: geo.dilations,
    dilations: geo.strides,
    pads: [...geo.padsBegin, ...geo.padsEnd],
    group: G,
  });
  // The correlation can run past the kernel when stride rounding left input rows unused: trim.
  const spatialIn = inDims.slice(2);
  const spatialG = gDims.slice(2);
  const fullK = spatialIn.map(
    (s, i) =>
      Math.floor(
        (s + geo.padsBegin[i] + geo.padsEnd[i] - ((spatialG[i] - 1) * geo.strides[i] + 1)) / geo.dilations[i],
      ) + 1,
  );
  const K = wDims.slice(2);
  const trimmed = fullK.some((k, i) => k !== K[i])
    ? b.slice(
        full,
        K.map(() => 0),
        K,
        K.map((_, i) => i + 2),
      )
    : full;
  return b.transpose(trimmed, [1, 0, ...Array.from({ length: sp }, (_, i) => i + 2)]);
}

export const convRules: Record<string, GradRule> = {
  Conv: (n, [g], c) => {
    const [x, w, bias] = n.input!;
    const geo = geometry(n, c, false);
    const xs = c.shape(x).slice(2);
    const ys = c.shape(n.output![0]).slice(2);
    const outputPadding = xs.map(
      (s, i) =>
        s -
        (geo.strides[i] * (ys[i] - 1) +
          (geo.kernel[i] - 1) * geo.dilations[i] +
          1 -
          geo.padsBegin[i] -
          geo.padsEnd[i]),
    );
    const gx = c.b.convTranspose(g!, w, undefined, {
      strides: geo.strides,
      dilations: geo.dilations,
      pads: [...geo.padsBegin, ...geo.padsEnd],
      group: geo.group,
      outputPadding: outputPadding.some((p) => p !== 0) ? outputPadding : undefined,
    });
    const gw = weightGrad(c, x, c.shape(x), g!, c.shape(n.output[0]), geo, c.shape(w));
    const rank = xs.length + 2;
    const gb = bias
      ? c.b.reduceSum(g!, [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)], false)
      : undefined;
    return [gx, gw, gb];
  },

  ConvTranspose: (n, [g], c) => {
    const [x, w, bias] = n.input!;
    const geo = geometry(n, c, true);
    const gx = c.b.conv(g!, w, undefined, {
      strides: geo.strides,
      dilations: geo.dilations,
      pads: [...geo.padsBegin, ...geo.padsEnd],
      group: geo.group,
    });
    const gw = weightGrad(c, g!, c.shape(n.output[0]), x, c.shape(x), geo, c.shape(w));
    const rank = c.rank(x);
    const gb = bias
      ? c.b.reduceSum(g!, [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)], false)
      : undefined;
    return [gx, gw, gb];
  },
};
