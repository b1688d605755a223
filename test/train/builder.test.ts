import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GraphBuilder } from '../../src/train/builder';
import { createSession, runSession } from '../../src/train/session';
import { Rng } from '../../src/train/rng';

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5) {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol * (1 + Math.abs(expected[i])),
      `at ${i}: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

test('matmul + add + relu + softmax run in onnxruntime with the expected numbers', async () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [2, 3]);
  const w = b.initializer('w', Float32Array.from([1, -1, 0.5, 2, 0, -2]), [3, 2]);
  const h = b.relu(b.add(b.matmul(x, w), b.constant(0.25)));
  b.output(b.identity(h, 'h'), 'float32', [2, 2]);
  b.output(b.identity(b.softmax(h), 'p'), 'float32', [2, 2]);
  const session = await createSession(b.build());
  const out = await runSession(session, {
    x: { dtype: 'float32', dims: [2, 3], data: Float32Array.from([1, 2, 3, -1, 0, 1]) },
  });
  // rows: [1,2,3]·w = [1+1+0, -1+4-6]... computed by hand below.
  const xm = [
    [1, 2, 3],
    [-1, 0, 1],
  ];
  const wm = [
    [1, -1],
    [0.5, 2],
    [0, -2],
  ];
  const expected = xm.flatMap((r) =>
    [0, 1].map((j) => Math.max(0, r.reduce((s, v, k) => s + v * wm[k][j], 0) + 0.25)),
  );
  close(out.h.data as Float32Array, expected);
  const p = out.p.data as Float32Array;
  for (let r = 0; r < 2; r++) {
    const e0 = Math.exp(expected[2 * r]);
    const e1 = Math.exp(expected[2 * r + 1]);
    close([p[2 * r], p[2 * r + 1]], [e0 / (e0 + e1), e1 / (e0 + e1)]);
  }
});

test('conv, SD-style groupNorm, silu, layerNorm, resize and friends build a valid graph', async () => {
  const rng = new Rng(3);
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [1, 4, 4, 4]);
  const w = b.initializer(
    'w',
    rng.fillNormal(new Float32Array(4 * 4 * 9), 0.2) as Float32Array,
    [4, 4, 3, 3],
  );
  const c = b.conv(x, w, undefined, { pads: [1, 1, 1, 1] });
  const gn = b.groupNorm(
    c,
    b.initializer('gs', Float32Array.from([1, 2, 1, 2]), [4]),
    b.initializer('gb', new Float32Array(4), [4]),
    {
      groups: 2,
    },
  );
  const s = b.silu(gn);
  const up = b.resize(s, [1, 1, 2, 2]);
  const tokens = b.reshape(b.transpose(b.reshape(up, [1, 4, 64]), [0, 2, 1]), [1, 64, 4]);
  const ln = b.layerNorm(
    tokens,
    b.initializer('ls', Float32Array.from([1, 1, 1, 1]), [4]),
    b.initializer('lb', new Float32Array(4), [4]),
  );
  const [l, r] = b.split(ln, [2, 2], 2);
  const cat = b.concat([r, l], 2);
  const m = b.reduceMean(cat, [2], false);
  b.output(b.identity(m, 'm'), 'float32', [1, 64]);
  b.output(b.identity(up, 'up'), 'float32', [1, 4, 8, 8]);
  const session = await createSession(b.build());
  const data = rng.fillNormal(new Float32Array(64)) as Float32Array;
  const out = await runSession(session, { x: { dtype: 'float32', dims: [1, 4, 4, 4], data } });
  assert.deepEqual(out.m.dims, [1, 64]);
  // Layer-normalised rows have mean 0 (the concat only permutes the row).
  for (const v of out.m.data as Float32Array) assert.ok(Math.abs(v) < 1e-5);
  // Nearest x2 upsampling repeats each pixel in a 2x2 block.
  const u = out.up.data as Float32Array;
  assert.equal(u[0], u[1]);
  assert.equal(u[0], u[8]);
  // group 0 (channels 0-1) of the group-normed conv output has mean 0 before silu: check silu range instead
  for (const v of u) assert.ok(v >= -0.2785, 'silu is bounded below by -0.2785');
});

test('fresh names never collide and duplicate input names are refused', () => {
  const b = new GraphBuilder();
  b.input('x', 'float32', [1]);
  assert.equal(b.fresh('x'), 'x_1');
  assert.equal(b.fresh('x'), 'x_2');
  assert.throws(() => b.input('x', 'float32', [1]), /Input name 'x' is already used/);
});

test('save with externalDataThreshold writes a side file that onnxruntime loads', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'alignrun-builder-'));
  try {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [1, 1000]);
    const w = new Float32Array(1000).map((_, i) => i / 1000);
    b.output(b.identity(b.mul(x, b.initializer('w', w, [1000])), 'y'), 'float32', [1, 1000]);
    const path = join(dir, 'm.onnx');
    b.save(path, { externalDataThreshold: 1024 });
    assert.ok(statSync(join(dir, 'm.onnx.data')).size >= 4000);
    assert.ok(statSync(path).size < 2000, 'weights are not inline');
    const session = await createSession(path);
    const out = await runSession(session, {
      x: { dtype: 'float32', dims: [1, 1000], data: new Float32Array(1000).fill(2) },
    });
    close(
      out.y.data as Float32Array,
      Array.from(w, (v) => 2 * v),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
