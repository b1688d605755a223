// Gradient rules for ReduceSum / ReduceMean: spread the gradient back over the reduced axes.
import { attrInt } from '../ir';
import type { GradContext, GradRule } from './context';
import { normAxis } from './shape';

function reduceGrad(mean: boolean): GradRule {
  return (n, [g], c) => {
    const x = n.input![0];
    const dims = c.shape(x);
    const axesGiven = reduceAxes(n, c);
    const noop = attrInt(n, 'noop_with_empty_axes', 0) === 1;
    if ((!axesGiven || axesGiven.length === 0) && noop) return [g];
    const axes =
      !axesGiven || axesGiven.length === 0
        ? dims.map((_, i) => i)
        : axesGiven.map((a) => normAxis(a, dims.length));
    const kept = dims.map((d, i) => (axes.includes(i) ? 1 : d));
    let spread = c.b.expand(c.b.reshape(g!, kept), dims);
    if (mean) {
      const count = axes.reduce((s, a) => s * dims[a], 1);
      spread = c.b.mul(spread, c.scalar(1 / count, x));
    }
    return [spread];
  };
}

function reduceAxes(n: Parameters<GradRule>[0], c: GradContext): number[] | undefined {
  return c.axes(n, 1);
}

export const reduceRules: Record<string, GradRule> = {
  ReduceSum: reduceGrad(false),
  ReduceMean: reduceGrad(true),
};
