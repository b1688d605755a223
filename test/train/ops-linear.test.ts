import { test } from 'node:test';
import { checkOp } from './helpers';

test('MatMul 2-D', () =>
  checkOp({ build: (b, p) => b.matmul(p('a', [3, 4]), p('w', [4, 2])), precision: 'float64' }));
test('MatMul batched with broadcast weight', () =>
  checkOp({ build: (b, p) => b.matmul(p('a', [2, 3, 4]), p('w', [4, 5])), precision: 'float64' }));
test('MatMul batched on both sides (attention scores)', () =>
  checkOp({ build: (b, p) => b.matmul(p('q', [2, 2, 3, 4]), p('k', [2, 1, 4, 3])), precision: 'float64' }));
test('MatMul vector @ matrix', () =>
  checkOp({ build: (b, p) => b.matmul(p('v', [4]), p('w', [4, 3])), precision: 'float64' }));
test('MatMul matrix @ vector', () =>
  checkOp({ build: (b, p) => b.matmul(p('m', [2, 4]), p('v', [4])), precision: 'float64' }));
test('Gemm with transB, alpha, beta and a broadcast bias', () =>
  checkOp({
    build: (b, p) =>
      b.gemm(p('a', [3, 4]), p('w', [2, 4]), p('c', [2]), { transB: true, alpha: 0.5, beta: 2 }),
    precision: 'float64',
  }));
test('Gemm with transA', () =>
  checkOp({
    build: (b, p) => b.gemm(p('a', [4, 3]), p('w', [4, 2]), undefined, { transA: true }),
    precision: 'float64',
  }));
