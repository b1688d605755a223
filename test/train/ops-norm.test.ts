import { test } from 'node:test';
import { checkOp } from './helpers';

test('InstanceNormalization', () =>
  checkOp({ build: (b, p) => b.instanceNorm(p('x', [2, 3, 4, 4]), p('scale', [3]), p('bias', [3]), 1e-5) }));
test('LayerNormalization over the last axis', () =>
  checkOp({
    build: (b, p) => b.layerNorm(p('x', [2, 3, 6]), p('scale', [6]), p('bias', [6])),
    precision: 'float64',
  }));
test('LayerNormalization over the last two axes, no bias', () =>
  checkOp({
    build: (b, p) => b.layerNorm(p('x', [2, 3, 4]), p('scale', [3, 4]), undefined, { axis: 1 }),
    precision: 'float64',
  }));
test('GroupNormalization as SD exports it (Reshape, InstanceNorm, Reshape, Mul, Add)', () =>
  checkOp({
    build: (b, p) => b.groupNorm(p('x', [2, 4, 3, 3]), p('gamma', [4]), p('beta', [4]), { groups: 2 }),
  }));
test('GroupNormalization op (opset 21, per-channel scale)', () =>
  checkOp({
    build: (b, p) =>
      b.node('GroupNormalization', [p('x', [2, 4, 3, 3]), p('gamma', [4]), p('beta', [4])], {
        num_groups: 2,
      }),
    opset: 21,
    precision: 'float64',
  }));
