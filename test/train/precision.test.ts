// The float64 reference graph of a gradient check: Conv, ConvTranspose, nearest Resize,
// InstanceNormalization and Erf (float-only kernels in onnxruntime's CPU provider) rewritten in ops
// that run in double compute what the real ops do; Erf to double precision.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../../src/train/builder';
import { type TensorValue } from '../../src/train/ir';
import { decomposeFloatOnly, toFloat64 } from '../../src/train/precision';
import { Rng } from '../../src/train/rng';
import { createSession, runSession } from '../../src/train/session';
import { inferShapes } from '../../src/train/shapes';
import { checkOp } from './helpers';

const FLOAT_ONLY = ['Conv', 'ConvTranspose', 'Resize', 'InstanceNormalization', 'Erf'];

async function compare(build: (b: GraphBuilder, x: string, w: (dims: number[]) => string) => string) {
  const rng = new Rng(5);
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [2, 4, 7, 6]);
  let k = 0;
  const w = (dims: number[]) =>
    b.initializer(
      `w${k++}`,
      rng.fillNormal(new Float32Array(dims.reduce((a, d) => a * d, 1))) as Float32Array,
      dims,
    );
  b.output(b.identity(build(b, x, w), 'y'));
  const model = b.build();
  const xv: TensorValue = {
    dtype: 'float32',
    dims: [2, 4, 7, 6],
    data: rng.fillNormal(new Float32Array(336)),
  };
  const single = await createSession(model);
  const wide = decomposeFloatOnly(toFloat64(model), await inferShapes(model));
  const left = wide.graph!.node!.filter((n) => FLOAT_ONLY.includes(n.opType!)).map((n) => n.opType);
  assert.deepEqual(left, [], 'decomposed');
  const double = await createSession(wide, { optimization: 'basic' });
  const want = (await runSession(single, { x: xv })).y;
  const got = (
    await runSession(double, {
      x: { ...xv, dtype: 'float64', data: Float64Array.from(xv.data as Float32Array) },
    })
  ).y;
  await single.release();
  await double.release();
  assert.equal(got.dtype, 'float64');
  assert.deepEqual(got.dims, want.dims);
  let worst = 0;
  want.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(Number(v) - Number(got.data[i])))));
  // Float32 rounding of O(1..10) values (measured: under 2e-6).
  assert.ok(worst < 1e-5, `max difference ${worst}`);
}

test('Conv in float64 (taps and MatMul) matches the float32 Conv: stride, dilation, groups, pads, bias', () =>
  compare((b, x, w) =>
    b.conv(x, w([6, 2, 3, 2]), w([6]), { strides: [2, 1], dilations: [1, 2], pads: [1, 0, 2, 1], group: 2 }),
  ));

test('Conv auto_pad SAME_UPPER in float64', () =>
  compare((b, x, w) => b.node('Conv', [x, w([3, 4, 3, 3])], { auto_pad: 'SAME_UPPER', strides: [2, 2] })));

test('nearest Resize in float64 (Gathers) matches Resize: integer and fractional scales, two modes', () =>
  compare((b, x) =>
    b.resize(b.resize(x, [1, 1, 2, 2]), [1, 1, 0.75, 1.5], { coordinateTransformation: 'half_pixel' }),
  ));

test('ConvTranspose in float64 (a Conv of the dilated input) matches it: stride, dilation, groups, output_padding, bias', () =>
  compare((b, x, w) =>
    b.convTranspose(x, w([4, 3, 3, 2]), w([6]), {
      strides: [2, 3],
      dilations: [1, 2],
      pads: [1, 0, 0, 2],
      group: 2,
      outputPadding: [1, 2],
    }),
  ));

test('ConvTranspose in float64: pads wider than the kernel (cropping), auto_pad SAME_LOWER', () =>
  compare((b, x, w) =>
    b.node(
      'ConvTranspose',
      [b.convTranspose(x, w([4, 2, 2, 2]), undefined, { pads: [2, 1, 2, 2] }), w([2, 3, 3, 3])],
      {
        auto_pad: 'SAME_LOWER',
        strides: [2, 2],
      },
    ),
  ));

test('InstanceNormalization and Erf in float64 match the float32 ops', () =>
  compare((b, x, w) => b.erf(b.instanceNorm(x, w([4]), w([4]), 1e-3))));

/** erf at double-precision points (mpmath, 50 digits, rounded to double): small, mid, tails, clip. */
const ERF: [number, number][] = [
  [1e-12, 1.1283791670955126e-12],
  [0.001, 0.0011283787909692365],
  [0.1, 0.1124629160182849],
  [-0.3, -0.3286267594591274],
  [0.5, 0.5204998778130465],
  [0.9, 0.7969082124228322],
  [1.0, 0.8427007929497149],
  [1.5, 0.9661051464753108],
  [-2.0, -0.9953222650189527],
  [2.5, 0.999593047982555],
  [3.0, 0.9999779095030014],
  [3.5, 0.9999992569016276],
  [4.0, 0.9999999845827421],
  [-4.5, -0.9999999998033839],
  [5.0, 0.9999999999984626],
  [5.5, 0.9999999999999927],
  [5.9, 0.9999999999999999],
  [6.0, 1.0],
  [8.0, 1.0],
  [30.0, 1.0],
];

test('Erf in float64 is erf to double precision (relative error under 4e-15), tails included', async () => {
  const b = new GraphBuilder();
  b.output(b.identity(b.erf(b.input('x', 'float32', [ERF.length])), 'y'));
  const double = await createSession(decomposeFloatOnly(toFloat64(b.build())), { optimization: 'basic' });
  const x = Float64Array.from(ERF, ([v]) => v);
  const y = (await runSession(double, { x: { dtype: 'float64', dims: [x.length], data: x } })).y.data;
  await double.release();
  ERF.forEach(([v, want], i) => {
    const rel = Math.abs(Number(y[i]) - want) / Math.abs(want);
    assert.ok(rel < 4e-15, `erf(${v}) = ${y[i]}, want ${want} (relative error ${rel.toExponential(2)})`);
  });
});

test('GroupNormalization at opset 18 (stash_type only exists from 21) widens to a valid float64 graph', () =>
  checkOp({
    opset: 18,
    build: (b, param) =>
      b.node('GroupNormalization', [param('x', [2, 4, 3, 3]), param('s', [2]), param('b', [2])], {
        num_groups: 2,
        epsilon: 1e-5,
      }),
    precision: 'float64',
  }));
