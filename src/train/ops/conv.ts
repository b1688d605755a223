// Gradient rules for Conv and ConvTranspose (any spatial rank, stride, padding, dilation, groups).
//
// Conv:          dx = Conv of g (dilated by the stride) with W flipped and its channel axes
//                     exchanged (inputGradAsConv): onnxruntime's CPU Conv beats its ConvTranspose
//                     on the tiny UNet's shapes; ConvTranspose(g, W) where padding exceeds the kernel
//                dW = one MatMul per kernel tap (weightGrad below)
// ConvTranspose: it is the adjoint of Conv with the same weight, so dx = Conv(g, W) and
//                dW = weightGrad with the roles of x and g exchanged.
import { attrInt, attrInts, attrString } from '../ir';
import type { GradContext, GradRule } from './context';

export interface Geometry {
  strides: number[];
  dilations: number[];
  padsBegin: number[];
  padsEnd: number[];
  group: number;
  kernel: number[];
}

function geometry(n: Parameters<GradRule>[0], c: GradContext, transposed: boolean): Geometry {
  return convGeometry(n, c.shape(n.input![0]), c.shape(n.input![1]), c.shape(n.output![0]), transposed);
}

/** Strides, dilations, explicit pads (auto_pad resolved from the measured sizes) and groups. */
export function convGeometry(
  n: Parameters<GradRule>[0],
  xDims: number[],
  wDims: number[],
  yDims: number[],
  transposed: boolean,
): Geometry {
  const xs = xDims.slice(2);
  const kernel = wDims.slice(2);
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
    const ys = yDims.slice(2);
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

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/**
 * dL/dW for y = Conv(input, W): W[co, ci, k] = sum_{n,o} input[n, ci, o*s + k*d - p] g[n, co, o].
 * Per kernel tap k, a strided Slice of the padded input ([G, cig, N*O]) meets g ([G, cog, N*O]) in
 * one MatMul, a GEMM over N*O. The same sum as one Conv (a kernel as large as the image, the batch
 * as channels) is off onnxruntime's fast paths: 3x slower on the tiny UNet, and stacking the taps
 * for a single GEMM (im2col) costs a Concat of 9 input copies for no GEMM gain (bench/train-profile.ts).
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
  const K = wDims.slice(2);
  const outSp = gDims.slice(2);
  const P = outSp.reduce((a, d) => a * d, 1);
  // input [N, C, S] -> [C, N, S], padded on the spatial axes.
  let xt = b.transpose(input, [1, 0, ...range(2, sp + 2)]);
  if (geo.padsBegin.some((p) => p !== 0) || geo.padsEnd.some((p) => p !== 0)) {
    xt = b.node('Pad', [xt, b.int64s([0, 0, ...geo.padsBegin, 0, 0, ...geo.padsEnd], 'pads')], {
      mode: 'constant',
    });
  }
  const offsets: number[][] = [[]];
  for (const k of K) {
    const next: number[][] = [];
    for (const o of offsets) for (let i = 0; i < k; i++) next.push([...o, i]);
    offsets.splice(0, offsets.length, ...next);
  }
  const axes = range(2, sp + 2);
  const padded = inDims.slice(2).map((d, i) => d + geo.padsBegin[i] + geo.padsEnd[i]);
  const taps = offsets.map((off) => {
    const starts = off.map((k, i) => k * geo.dilations[i]);
    const ends = starts.map((s0, i) => s0 + (outSp[i] - 1) * geo.strides[i] + 1);
    const strided = geo.strides.some((s0) => s0 !== 1);
    const whole = !strided && starts.every((s0, i) => s0 === 0 && ends[i] === padded[i]);
    const tap = whole ? xt : b.slice(xt, starts, ends, axes, strided ? geo.strides : undefined);
    return b.reshape(tap, [G, cig, n * P]);
  });
  // g [N, Cout, O] -> [Cout, N, O] -> [G, cog, N*P]
  const gt = b.reshape(b.transpose(g, [1, 0, ...range(2, sp + 2)]), [G, cog, n * P]);
  const perTap = taps.map((t) => b.reshape(b.matmul(gt, b.transpose(t, [0, 2, 1])), [G, cog, cig, 1]));
  return b.reshape(perTap.length === 1 ? perTap[0] : b.concat(perTap, 3), wDims);
}

/**
 * dL/dx of y = Conv(x, W) as a Conv: the output gradient, dilated by the stride (zeros between
 * its values), correlated with W flipped in space and with its channel axes exchanged. Returns
 * undefined where that needs negative padding (pads wider than the kernel's span).
 */
function inputGradAsConv(
  c: GradContext,
  g: string,
  gDims: number[],
  w: string,
  wDims: number[],
  xDims: number[],
  geo: Geometry,
): string | undefined {
  const b = c.b;
  const sp = xDims.length - 2;
  const K = wDims.slice(2);
  const outSp = gDims.slice(2);
  const inSp = xDims.slice(2);
  const span = K.map((k, i) => (k - 1) * geo.dilations[i]);
  const strided = geo.strides.some((s) => s !== 1);
  // With stride s each value of g is followed by s-1 zeros (also after the last one).
  const gLen = outSp.map((o, i) => o * geo.strides[i]);
  const padB = span.map((s, i) => s - geo.padsBegin[i]);
  const padE = inSp.map((h, i) => h + span[i] - gLen[i] - padB[i]);
  if (padB.some((p) => p < 0) || padE.some((p) => p < 0)) return undefined;
  let gd = g;
  if (strided) {
    // [N, C, O1, O2] -> [N, C, O1, 1, O2, 1] -> zero-pad the unit axes to s -> [N, C, O1*s1, O2*s2]
    const inter = outSp.flatMap((o) => [o, 1]);
    const shaped = b.reshape(g, [gDims[0], gDims[1], ...inter]);
    const ends = geo.strides.flatMap((s) => [0, s - 1]);
    gd = b.reshape(
      b.node('Pad', [shaped, b.int64s([0, 0, ...inter.map(() => 0), 0, 0, ...ends], 'pads')], {
        mode: 'constant',
      }),
      [gDims[0], gDims[1], ...gLen],
    );
  }
  // W [G*cog, cig, K] -> [G, cog, cig, K] -> [G, cig, cog, K] -> [G*cig, cog, K], flipped in space.
  const G = geo.group;
  const cog = wDims[0] / G;
  const cig = wDims[1];
  let wt = w;
  if (cog !== 1 || cig !== 1) {
    wt = b.reshape(b.transpose(b.reshape(w, [G, cog, cig, ...K]), [0, 2, 1, ...range(3, sp + 3)]), [
      G * cig,
      cog,
      ...K,
    ]);
  }
  const flipped = b.slice(
    wt,
    K.map(() => -1),
    K.map(() => Number.MIN_SAFE_INTEGER),
    range(2, sp + 2),
    K.map(() => -1),
  );
  return b.conv(gd, flipped, undefined, {
    dilations: geo.dilations,
    pads: [...padB, ...padE],
    group: G,
  });
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
    const gx =
      inputGradAsConv(c, g!, c.shape(n.output[0]), w, c.shape(w), c.shape(x), geo) ??
      c.b.convTranspose(g!, w, undefined, {
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
