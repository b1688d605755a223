import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../../src/train/builder';
import { buildTrainingGraph } from '../../src/train/engine';
import { RULES } from '../../src/train/ops/index';
import { createSession, runSession } from '../../src/train/session';
import { runOp } from './helpers';

function mlp() {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [2, 3]);
  const w = b.initializer('w', Float32Array.from([1, 2, 3, 4, 5, 6]), [3, 2]);
  const bias = b.initializer('bias', Float32Array.from([0.5, -0.5]), [2]);
  b.output(b.identity(b.add(b.matmul(x, w), bias), 'y'), 'float32', [2, 2]);
  return b.build();
}

test('training graph: params become inputs, frozen weights stay initializers, outputs loss and grads', async () => {
  const t = await buildTrainingGraph(mlp(), { trainable: ['w'], loss: 'mean-square' });
  const g = t.graph!;
  assert.deepEqual(
    g.input!.map((i) => i.name),
    ['x', 'w'],
  );
  assert.deepEqual(
    g.initializer!.map((i) => i.name),
    ['bias'],
  );
  assert.deepEqual(
    g.output!.map((o) => o.name),
    ['loss', 'grad.w'],
  );
  const s = await createSession(t);
  const x = Float32Array.from([1, 0, 0, 0, 1, 1]);
  const w = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const out = await runSession(s, {
    x: { dtype: 'float32', dims: [2, 3], data: x },
    w: { dtype: 'float32', dims: [3, 2], data: w },
  });
  // y = [[1.5, 1.5], [8.5, 9.5]]; loss = mean(y^2); dL/dw = x^T (2y/4)
  const y = [1.5, 1.5, 8.5, 9.5];
  assert.ok(Math.abs((out.loss.data as Float32Array)[0] - y.reduce((s, v) => s + v * v, 0) / 4) < 1e-4);
  const gw = out['grad.w'].data as Float32Array;
  const expected = [0, 1, 2].flatMap((k) => [0, 1].map((j) => (x[k] * y[j] + x[3 + k] * y[2 + j]) / 2));
  expected.forEach((v, i) => assert.ok(Math.abs(gw[i] - v) < 1e-4, `grad.w[${i}] ${gw[i]} vs ${v}`));
});

test('an unsupported op on the gradient path is named with its node and a way out', async () => {
  const b = new GraphBuilder();
  const w = b.initializer('w', Float32Array.from([1, 2]), [2]);
  b.output(b.node('Atan', [w], {}, { name: 'angle' }));
  await assert.rejects(
    buildTrainingGraph(b.build(), { trainable: ['w'] }),
    /no gradient rule for op 'Atan' \(node 'angle'\); freeze the weights before it/,
  );
});

test('naming a trainable that is not an initializer says so', async () => {
  await assert.rejects(
    buildTrainingGraph(mlp(), { trainable: ['nope'] }),
    /Trainable 'nope' is not an initializer/,
  );
  await assert.rejects(buildTrainingGraph(mlp(), { trainable: () => false }), /No initializer matches/);
});

test('symbolic input dims without inputShapes are refused with the fix', async () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['batch', 2]);
  b.output(b.mul(x, b.initializer('w', Float32Array.from([1, 2]), [2])));
  await assert.rejects(
    buildTrainingGraph(b.build(), { trainable: ['w'] }),
    /'x' has no static shape; pass its dims in inputShapes/,
  );
  const t = await buildTrainingGraph(b.build(), { trainable: ['w'], inputShapes: { x: [3, 2] } });
  assert.equal(t.graph!.output!.length, 2);
});

test('the gradient check catches a wrong rule (the op tests can fail)', async () => {
  const saved = RULES.Sin;
  // Wrong on purpose: d sin = +sin instead of cos.
  RULES.Sin = ({ input: [x] }, [g], c) => [c.b.mul(g!, c.b.sin(x))];
  try {
    const report = await runOp({ build: (b, p) => b.sin(p('a', [5])) }).catch((e: Error) => e);
    assert.ok(report instanceof Error && /worst relative error/.test(report.message));
  } finally {
    RULES.Sin = saved;
  }
});
