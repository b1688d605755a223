import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdamW, Sgd, clipGradNorm, constantLr, cosineWithWarmup } from '../../src/train/optim';

test('SGD with momentum follows v = mu v + g, p -= lr v', () => {
  const opt = new Sgd({ momentum: 0.9 });
  const p = { w: Float32Array.from([1]) };
  opt.step(p, { w: Float32Array.from([2]) }, 0.1); // v=2, p=0.8
  opt.step(p, { w: Float32Array.from([2]) }, 0.1); // v=3.8, p=0.42
  assert.ok(Math.abs(p.w[0] - 0.42) < 1e-6);
  assert.ok(Math.abs(opt.state().slots.velocity.w[0] - 3.8) < 1e-6);
});

test('AdamW: first step moves each weight by lr against the gradient sign, plus decoupled decay', () => {
  const opt = new AdamW({ weightDecay: 0.1 });
  const p = { w: Float32Array.from([1, -2]) };
  opt.step(p, { w: Float32Array.from([0.3, -5]) }, 0.01);
  // bias-corrected m/sqrt(v) = sign(g) on step 1
  assert.ok(Math.abs(p.w[0] - (1 - 0.01 * (1 + 0.1 * 1))) < 1e-6);
  assert.ok(Math.abs(p.w[1] - (-2 - 0.01 * (-1 + 0.1 * -2))) < 1e-6);
  const s = opt.state();
  const other = new AdamW({ weightDecay: 0.1 });
  other.load(s);
  const q = { w: Float32Array.from(p.w) };
  opt.step(p, { w: Float32Array.from([1, 1]) }, 0.01);
  other.step(q, { w: Float32Array.from([1, 1]) }, 0.01);
  assert.deepEqual(Array.from(q.w), Array.from(p.w), 'loaded state continues identically');
  assert.throws(() => new Sgd().load(s), /holds adamw state; this run uses SGD/);
});

test('global-norm clipping scales all gradients together', () => {
  const g = { a: Float32Array.from([3]), b: Float32Array.from([4]) };
  assert.equal(clipGradNorm(g, 1), 5);
  assert.ok(Math.abs(g.a[0] - 0.6) < 1e-6 && Math.abs(g.b[0] - 0.8) < 1e-6);
  assert.ok(Math.abs(clipGradNorm(g, 10) - 1) < 1e-6, 'below the limit: norm reported');
  assert.ok(Math.abs(g.a[0] - 0.6) < 1e-6, 'below the limit: unchanged');
});

test('schedules: constant, and cosine with linear warm-up', () => {
  assert.equal(constantLr(0.1)(1000), 0.1);
  const s = cosineWithWarmup({ lr: 1, warmupSteps: 4, totalSteps: 14, minLr: 0.1 });
  assert.equal(s(0), 0.25);
  assert.equal(s(3), 1);
  assert.ok(Math.abs(s(4) - 1) < 1e-12);
  assert.ok(Math.abs(s(9) - 0.55) < 1e-12);
  assert.ok(Math.abs(s(14) - 0.1) < 1e-12);
  assert.ok(Math.abs(s(100) - 0.1) < 1e-12);
});
