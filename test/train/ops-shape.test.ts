import { test } from 'node:test';
import { checkOp } from './helpers';

test('Reshape', () =>
  checkOp({ build: (b, p) => b.reshape(p('x', [2, 6]), [3, -1, 2]), precision: 'float64' }));
test('Reshape by a computed shape (Shape -> Gather -> Concat, as exporters write it)', () =>
  checkOp({
    build: (b, p) => {
      const x = p('x', [2, 3, 4]);
      const n = b.gather(b.shape(x), b.int64s([0]), 0);
      return b.node('Reshape', [x, b.concat([n, b.int64s([-1])], 0)]);
    },
    precision: 'float64',
  }));
test('Transpose', () =>
  checkOp({ build: (b, p) => b.transpose(p('x', [2, 3, 4]), [2, 0, 1]), precision: 'float64' }));
test('Concat', () =>
  checkOp({ build: (b, p) => b.concat([p('a', [2, 3]), p('c', [2, 1])], 1), precision: 'float64' }));
test('Split with one output unused', () =>
  checkOp({
    build: (b, p) => {
      const [l, , r] = b.split(p('x', [2, 6]), [1, 2, 3], 1);
      return b.concat([r, l], 1);
    },
    precision: 'float64',
  }));
test('Slice contiguous, negative bounds', () =>
  checkOp({ build: (b, p) => b.slice(p('x', [3, 5]), [1, -4], [3, -1], [0, 1]), precision: 'float64' }));
test('Slice with steps 2 and -1', () =>
  checkOp({
    build: (b, p) => b.slice(p('x', [4, 5]), [0, 4], [4, 0], [0, 1], [2, -1]),
    precision: 'float64',
  }));
test('Gather rows with a repeated and a negative index (embedding lookup)', () =>
  checkOp({
    build: (b, p) =>
      b.gather(p('table', [5, 3]), b.constant(BigInt64Array.from([1n, 3n, 1n, -1n]), [2, 2], 'int64'), 0),
    precision: 'float64',
  }));
test('Gather on axis 1 with a scalar index', () =>
  checkOp({
    build: (b, p) => b.gather(p('x', [2, 4, 3]), b.constant(BigInt64Array.of(2n), [], 'int64'), 1),
    precision: 'float64',
  }));
test('Gather at opset 13 (one-hot path)', () =>
  checkOp({
    build: (b, p) =>
      b.gather(p('table', [4, 2]), b.constant(BigInt64Array.from([0n, 2n, 0n]), [3], 'int64'), 0),
    opset: 13,
  }));
test('Squeeze / Unsqueeze', () =>
  checkOp({ build: (b, p) => b.unsqueeze(b.squeeze(p('x', [2, 1, 3]), [1]), [0, 3]), precision: 'float64' }));
test('Expand', () => checkOp({ build: (b, p) => b.expand(p('x', [3, 1]), [2, 3, 4]), precision: 'float64' }));
test('Resize nearest x2 (asymmetric, floor: the SD upsampler)', () =>
  checkOp({ build: (b, p) => b.resize(p('x', [1, 2, 3, 3]), [1, 1, 2, 2]) }));
test('Resize nearest x2 with half_pixel / round_prefer_floor defaults', () =>
  checkOp({
    build: (b, p) =>
      b.node('Resize', [p('x', [1, 1, 3, 2]), '', b.constant(Float32Array.from([1, 1, 2, 3]), [4])], {
        mode: 'nearest',
      }),
  }));
