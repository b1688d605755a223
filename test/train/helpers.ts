// Shared by the op gradient tests: a tiny graph around one op, checked against finite differences.
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../src/train/builder';
import { gradcheck, type GradcheckReport } from '../../src/train/gradcheck';
import { Rng } from '../../src/train/rng';

export const TOLERANCE = { float64: 1e-6, float32: 1e-4 };

export interface OpCase {
  /** Builds the op from the given parameter factory; returns the op's output. */
  build: (
    b: GraphBuilder,
    param: (name: string, dims: number[], opts?: { positive?: boolean }) => string,
  ) => string;
  /** Parameters to check (default: every parameter created). */
  wrt?: string[];
  /** Expected precision: the test fails if the check silently ran in another one. */
  precision?: 'float64' | 'float32';
  /** Expected precision of the finite differences (the reference), likewise. */
  numericPrecision?: 'float64' | 'float32';
  opset?: number;
}

/**
 * Builds `y = op(params) * R` (R a random frozen weight, so the loss sum(y) weighs every output
 * differently), runs the gradient check and asserts the worst relative error is in tolerance.
 */
export async function checkOp(c: OpCase, seed = 7): Promise<void> {
  await runOp(c, seed);
}

export async function runOp(c: OpCase, seed = 7): Promise<GradcheckReport> {
  const rng = new Rng(seed);
  const b = new GraphBuilder({ opset: c.opset ?? 17 });
  const created: string[] = [];
  const param = (name: string, dims: number[], opts: { positive?: boolean } = {}) => {
    const data = new Float32Array(dims.reduce((a, d) => a * d, 1));
    rng.fillUniform(data, opts.positive ? 0.5 : -1, opts.positive ? 1.5 : 1);
    created.push(name);
    return b.initializer(name, data, dims);
  };
  const y = c.build(b, param);
  b.output(y);
  const probe = b.build();
  // Size R from the op output by a quick shape probe.
  const { inferShapes } = await import('../../src/train/shapes');
  const dims = (await inferShapes(probe)).get(y)!.dims;
  b.outputs.splice(0);
  const r = new Float32Array(dims.reduce((a, d) => a * d, 1));
  rng.fillUniform(r, 0.5, 1.5);
  const weighted = b.mul(y, b.initializer('R', r, dims));
  b.output(weighted, 'float32', dims);
  const report = await gradcheck(b.build(), { wrt: c.wrt ?? created, seed, samples: 16 });
  if (c.precision) assert.equal(report.precision, c.precision, 'precision of the check');
  if (c.numericPrecision)
    assert.equal(report.numericPrecision, c.numericPrecision, 'precision of the finite differences');
  for (const row of report.rows) {
    const tol = TOLERANCE[report.precision];
    assert.ok(
      row.worstRelError < tol,
      `${row.param}: worst relative error ${row.worstRelError.toExponential(2)} (analytic ${row.analytic}, numeric ${row.numeric}) in ${report.precision}`,
    );
  }
  return report;
}
