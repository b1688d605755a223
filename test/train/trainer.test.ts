import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GraphBuilder } from '../../src/train/builder';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint';
import { AdamW, cosineWithWarmup } from '../../src/train/optim';
import { Rng } from '../../src/train/rng';
import { Trainer, type TrainerOptions } from '../../src/train/trainer';

const dir = mkdtempSync(join(tmpdir(), 'alignrun-trainer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A conv + linear regressor learning a fixed random target from noisy inputs. */
function regression(): Omit<TrainerOptions, 'optimizer'> {
  const rng = new Rng(11);
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [2, 2, 4, 4]);
  const w = b.initializer(
    'conv.w',
    rng.fillNormal(new Float32Array(4 * 2 * 9), 0.3) as Float32Array,
    [4, 2, 3, 3],
  );
  const h = b.silu(b.conv(x, w, undefined, { pads: [1, 1, 1, 1] }));
  const lin = b.initializer('lin.w', rng.fillNormal(new Float32Array(64 * 3), 0.1) as Float32Array, [64, 3]);
  const y = b.matmul(b.reshape(h, [2, 64]), lin);
  const target = b.input('target', 'float32', [2, 3]);
  b.output(b.identity(b.sub(y, target), 'err'), 'float32', [2, 3]);
  return {
    model: b.build(),
    trainable: ['conv.w', 'lin.w'],
    loss: 'mean-square',
    schedule: cosineWithWarmup({ lr: 0.02, warmupSteps: 2, totalSteps: 12 }),
    clipNorm: 1,
    session: { threads: 1 },
    batch: (_step, r) => {
      const xs = r.fillNormal(new Float32Array(64)) as Float32Array;
      const t = Float32Array.from([1, -1, 0.5, 0.5, -1, 1]);
      return {
        x: { dtype: 'float32', dims: [2, 2, 4, 4], data: xs },
        target: { dtype: 'float32', dims: [2, 3], data: t },
      };
    },
  };
}

test('training lowers the loss', async () => {
  const t = await Trainer.create({ ...regression(), optimizer: new AdamW() });
  const r = await t.run(12);
  await t.release();
  const first = (r[0].loss + r[1].loss) / 2;
  const last = (r[10].loss + r[11].loss) / 2;
  assert.ok(last < 0.5 * first, `loss ${first} -> ${last}`);
});

test('exact resume: N steps straight == k steps, checkpoint, resume for N-k (bit-identical)', async () => {
  const straight = await Trainer.create({ ...regression(), optimizer: new AdamW() });
  await straight.run(7);
  const ckpt = join(dir, 'ckpt');
  const first = await Trainer.create({
    ...regression(),
    optimizer: new AdamW(),
    checkpointDir: ckpt,
    checkpointEvery: 3,
  });
  await first.run(4); // checkpoint written after step 3; step 4 is thrown away
  const resumed = await Trainer.create({ ...regression(), optimizer: new AdamW(), checkpointDir: ckpt });
  resumed.resume();
  assert.equal(resumed.step, 3);
  await resumed.run(4);
  for (const name of Object.keys(straight.params)) {
    assert.deepEqual(
      Buffer.from(resumed.params[name].buffer),
      Buffer.from(straight.params[name].buffer),
      name,
    );
  }
  await Promise.all([straight.release(), first.release(), resumed.release()]);
});

test('checkpoints are replaced atomically and a wrong folder is named', () => {
  const path = join(dir, 'atomic');
  const base = {
    step: 1,
    params: { w: Float32Array.from([1, 2]) },
    optimizer: { kind: 'sgd' as const, step: 1, slots: { velocity: { w: Float32Array.from([3, 4]) } } },
    rngState: Uint32Array.from([1, 2, 3, 4]),
  };
  saveCheckpoint(path, base);
  saveCheckpoint(path, { ...base, step: 2 });
  const back = loadCheckpoint(path);
  assert.equal(back.step, 2);
  assert.deepEqual(Array.from(back.optimizer.slots.velocity.w), [3, 4]);
  assert.deepEqual(Array.from(back.rngState), [1, 2, 3, 4]);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.startsWith('atomic')),
    ['atomic'],
    'no temporary or old folders left',
  );
  assert.ok(!existsSync(join(dir, 'nothing')));
  assert.throws(() => loadCheckpoint(join(dir, 'nothing')), /is not a checkpoint folder/);
});

test('weight EMA: warmed-up average of the updates, exported, and resumed exactly', async () => {
  const decay = 0.9;
  const t = await Trainer.create({ ...regression(), optimizer: new AdamW(), emaDecay: decay });
  const start = Object.fromEntries(Object.entries(t.params).map(([n, p]) => [n, Float64Array.from(p)]));
  const expected = start;
  for (let n = 0; n < 3; n++) {
    await t.trainStep();
    const d = Math.min(decay, (1 + n) / (10 + n));
    for (const [name, p] of Object.entries(t.params))
      for (let i = 0; i < p.length; i++) expected[name][i] = d * expected[name][i] + (1 - d) * p[i];
  }
  for (const [name, e] of Object.entries(expected)) {
    const worst = Math.max(...Array.from(e, (v, i) => Math.abs(v - t.ema![name][i])));
    assert.ok(worst < 1e-6, `${name}: ema off by ${worst}`);
    assert.notDeepEqual(Array.from(t.ema![name]), Array.from(t.params[name]), 'average differs from weights');
  }
  const exported = t.exportModel().graph!.initializer!.find((x) => x.name === 'lin.w')!;
  assert.deepEqual(
    Array.from(new Float32Array(Uint8Array.from(exported.rawData!).buffer)),
    Array.from(t.ema!['lin.w']),
  );

  const ckpt = join(dir, 'ema-ckpt');
  const straight = await Trainer.create({ ...regression(), optimizer: new AdamW(), emaDecay: decay });
  await straight.run(6);
  const first = await Trainer.create({
    ...regression(),
    optimizer: new AdamW(),
    emaDecay: decay,
    checkpointDir: ckpt,
    checkpointEvery: 3,
  });
  await first.run(3);
  const resumed = await Trainer.create({
    ...regression(),
    optimizer: new AdamW(),
    emaDecay: decay,
    checkpointDir: ckpt,
  });
  resumed.resume();
  await resumed.run(3);
  for (const name of Object.keys(straight.params))
    assert.deepEqual(Buffer.from(resumed.ema![name].buffer), Buffer.from(straight.ema![name].buffer), name);
  await Promise.all([t.release(), straight.release(), first.release(), resumed.release()]);
});
