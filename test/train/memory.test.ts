// What a training step keeps in memory: the training graph returns only the loss and gradients,
// computes every forward tensor once, keeps exactly the activations its rules read, and the
// trainer reports each step's time and peak memory.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../../src/train/builder';
import { buildTrainingGraph, savedActivations } from '../../src/train/engine';
import { AdamW, constantLr } from '../../src/train/optim';
import { Rng } from '../../src/train/rng';
import { inferShapes } from '../../src/train/shapes';
import { Trainer } from '../../src/train/trainer';

/** x -> MatMul W1 -> a -> Relu -> h -> MatMul W2 -> y, plus a side branch the loss never reads. */
function chain() {
  const rng = new Rng(3);
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [4, 3]);
  const w1 = b.initializer('w1', rng.fillNormal(new Float32Array(3 * 5)) as Float32Array, [3, 5]);
  const w2 = b.initializer('w2', rng.fillNormal(new Float32Array(5 * 2)) as Float32Array, [5, 2]);
  const a = b.node('MatMul', [x, w1], {}, { outputs: 'a' });
  const h = b.node('Relu', [a], {}, { outputs: 'h' });
  b.output(b.node('MatMul', [h, w2], {}, { outputs: 'y' }), 'float32', [4, 2]);
  b.output(b.node('Exp', [a], {}, { outputs: 'side' }), 'float32', [4, 5]);
  return b.build();
}

test('the training graph outputs only the loss and one gradient per parameter', async () => {
  const t = await buildTrainingGraph(chain(), { trainable: ['w1', 'w2'], output: 'y' });
  assert.deepEqual(
    t.graph!.output!.map((o) => o.name),
    ['loss', 'grad.w1', 'grad.w2'],
  );
  // The side branch feeds neither the loss nor a gradient, so it is pruned.
  assert.ok(!t.graph!.node!.some((n) => n.output!.includes('side')));
});

test('every forward tensor is computed once: the backward pass reads activations, never recomputes them', async () => {
  const model = chain();
  const t = await buildTrainingGraph(model, { trainable: ['w1', 'w2'], output: 'y' });
  const producers = new Map<string, number>();
  for (const n of t.graph!.node!) for (const o of n.output!) producers.set(o, (producers.get(o) ?? 0) + 1);
  for (const o of ['a', 'h', 'y']) assert.equal(producers.get(o), 1, `'${o}' is produced once`);
  const signature = (n: { opType?: string | null; input?: string[] | null }) =>
    `${n.opType}(${(n.input ?? []).join(',')})`;
  const forward = new Set(model.graph!.node!.map(signature));
  const forwardNames = new Set(model.graph!.node!.map((n) => n.name));
  const repeats = t.graph!.node!.filter((n) => !forwardNames.has(n.name) && forward.has(signature(n)));
  assert.deepEqual(
    repeats.map((n) => n.name),
    [],
  );
});

test('saved activations are exactly what the rules read, and freezing early weights keeps fewer', async () => {
  const model = chain();
  const shapes = await inferShapes(model);
  const both = await buildTrainingGraph(model, { trainable: ['w1', 'w2'], output: 'y', shapes });
  const all = savedActivations(both, shapes);
  // dW2 reads h; the Relu rule reads its input a; x is a graph input and not counted.
  assert.deepEqual([...all.names].sort(), ['a', 'h']);
  assert.equal(all.bytes, 2 * 4 * 5 * 4);
  const last = await buildTrainingGraph(model, { trainable: ['w2'], output: 'y', shapes });
  assert.deepEqual(savedActivations(last, shapes).names, ['h']);
});

test('Trainer reports each step: time, peak RSS, returned bytes and the saved activations', async () => {
  const model = chain();
  const rng = new Rng(4);
  const trainer = await Trainer.create({
    model,
    trainable: ['w1', 'w2'],
    output: 'y',
    loss: 'mean-square',
    optimizer: new AdamW(),
    schedule: constantLr(1e-2),
    session: { threads: 1 },
    batch: () => ({ x: { dtype: 'float32', dims: [4, 3], data: rng.fillNormal(new Float32Array(12)) } }),
  });
  try {
    assert.equal(trainer.lastStepStats, undefined);
    await trainer.trainStep();
    const s = trainer.lastStepStats!;
    assert.ok(s.ms > 0, `ms ${s.ms}`);
    // The step ran in this process, so its peak is at least the RSS it ends with.
    assert.ok(s.peakRssBytes >= process.memoryUsage.rss() * 0.5, `peak ${s.peakRssBytes}`);
    assert.equal(s.outputBytes, 4 * (1 + 15 + 10));
    // a and h as above, and y [4, 2]: the mean-square loss's gradient 2y/n reads it.
    assert.deepEqual(trainer.memory, {
      savedActivationBytes: 4 * (2 * 4 * 5 + 4 * 2),
      parameterBytes: 4 * 25,
    });
  } finally {
    await trainer.release();
  }
});
