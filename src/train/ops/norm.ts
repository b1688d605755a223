// Gradient rules for InstanceNormalization, LayerNormalization and GroupNormalization.
// The statistics are recomputed from x in the backward graph rather than kept from the forward
// pass: a few reductions are cheaper than holding extra activations.
import { attrFloat, attrInt } from '../ir';
import type { GradContext, GradRule } from './context';
import { normAxis } from './shape';

/** x-hat and 1/sigma of x normalised over `axes` (keepdims). */
function standardise(
  c: GradContext,
  x: string,
  axes: number[],
  eps: number,
  like = x,
): { xhat: string; invStd: string } {
  const b = c.b;
  const xc = b.sub(x, b.reduceMean(x, axes, true));
  const variance = b.reduceMean(b.mul(xc, xc), axes, true);
  const invStd = b.div(c.scalar(1, like), b.sqrt(b.add(variance, c.scalar(eps, like))));
  return { xhat: b.mul(xc, invStd), invStd };
}

/** dL/dx from dL/dx-hat: invStd (gh - mean(gh) - x-hat mean(gh x-hat)). */
function normBackward(c: GradContext, gh: string, xhat: string, invStd: string, axes: number[]): string {
  const b = c.b;
  const t = b.sub(
    b.sub(gh, b.reduceMean(gh, axes, true)),
    b.mul(xhat, b.reduceMean(b.mul(gh, xhat), axes, true)),
  );
  return b.mul(invStd, t);
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

export const normRules: Record<string, GradRule> = {
  InstanceNormalization: (n, [g], c) => {
    const [x, scale] = n.input!;
    const dims = c.shape(x);
    const eps = attrFloat(n, 'epsilon', 1e-5);
    const axes = range(2, dims.length);
    const perChannel = [dims[1], ...axes.map(() => 1)];
    const { xhat, invStd } = standardise(c, x, axes, eps);
    const gx = normBackward(c, c.b.mul(g!, c.b.reshape(scale, perChannel)), xhat, invStd, axes);
    const channelAxes = [0, ...axes];
    const gScale = c.b.reduceSum(c.b.mul(g!, xhat), channelAxes, false);
    const gBias = c.b.reduceSum(g!, channelAxes, false);
    return [gx, gScale, gBias];
  },

  LayerNormalization: (n, gy, c) => {
    const [x, scale, bias] = n.input!;
    const y = n.output![0];
    if (gy[1] || gy[2]) c.fail('gradients through its Mean / InvStdDev outputs are not supported.');
    const g = gy[0]!;
    const dims = c.shape(x);
    const axis = normAxis(attrInt(n, 'axis', -1), dims.length);
    const axes = range(axis, dims.length);
    const { xhat, invStd } = standardise(c, x, axes, attrFloat(n, 'epsilon', 1e-5));
    const gx = normBackward(c, c.b.mul(g, scale), xhat, invStd, axes);
    const gScale = c.unbroadcast(c.b.mul(g, xhat), c.shape(y), c.shape(scale));
    const gBias = bias ? c.unbroadcast(g, c.shape(y), c.shape(bias)) : undefined;
    return [gx, gScale, gBias];
  },

  // Opset 18 has per-group scale/bias [G]; opset 21 per-channel [C]. Both are handled by size.
  GroupNormalization: (n, [g], c) => {
    const [x, scale, bias] = n.input!;
    const dims = c.shape(x);
    const groups = attrInt(n, 'num_groups', 1);
    const channels = dims[1];
    const spatial = range(2, dims.length).map(() => 1);
    const perGroup = c.numel(scale) === groups && groups !== channels;
    const b = c.b;
    const grouped = [dims[0], groups, -1];
    const { xhat: xhatG, invStd } = standardise(
      c,
      b.reshape(x, grouped),
      [2],
      attrFloat(n, 'epsilon', 1e-5),
      x,
    );
    const xhat = b.reshape(xhatG, dims);
    const channelScale = perGroup
      ? b.reshape(b.expand(b.reshape(scale, [groups, 1]), [groups, channels / groups]), [
          channels,
          ...spatial,
        ])
      : b.reshape(scale, [channels, ...spatial]);
    const ghG = b.reshape(b.mul(g!, channelScale), grouped);
    const gx = b.reshape(normBackward(c, ghG, xhatG, invStd, [2]), dims);
    const reduceTo = (t: string) =>
      perGroup
        ? b.reduceSum(
            b.reshape(b.reduceSum(t, [0, ...range(2, dims.length)], false), [groups, -1]),
            [1],
            false,
          )
        : b.reduceSum(t, [0, ...range(2, dims.length)], false);
    return [gx, reduceTo(b.mul(g!, xhat)), reduceTo(g!), undefined].slice(0, bias ? 3 : 2);
  },
};
