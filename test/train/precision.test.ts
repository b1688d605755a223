// The float64 reference graph of a gradient check: Conv and nearest Resize (float-only kernels in
// onnxruntime's CPU provider) rewritten in ops that run in double compute what the real ops do.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../../src/train/builder';
import { type TensorValue } from '../../src/train/ir';
import { decomposeFloatOnly, toFloat64 } from '../../src/train/precision';
import { Rng } from '../../src/train/rng';
import { createSession, runSession } from '../../src/train/session';
import { inferShapes } from '../../src/train/shapes';

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
  assert.ok(!wide.graph!.node!.some((n) => n.opType === 'Conv' || n.opType === 'Resize'), 'decomposed');
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
  assert.ok(worst < 1e-4, `max difference ${worst}`);
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
