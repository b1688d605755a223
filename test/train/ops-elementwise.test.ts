import { test } from 'node:test';
import { checkOp } from './helpers';

test('Add broadcasts both ways', () =>
  checkOp({ build: (b, p) => b.add(p('a', [2, 1, 4]), p('c', [3, 1])), precision: 'float64' }));
test('Sub', () => checkOp({ build: (b, p) => b.sub(p('a', [2, 3]), p('c', [3])), precision: 'float64' }));
test('Mul', () => checkOp({ build: (b, p) => b.mul(p('a', [2, 3]), p('c', [2, 1])), precision: 'float64' }));
test('Div', () =>
  checkOp({ build: (b, p) => b.div(p('a', [2, 3]), p('c', [3], { positive: true })), precision: 'float64' }));
test('Pow (base and exponent)', () =>
  checkOp({ build: (b, p) => b.pow(p('a', [2, 3], { positive: true }), p('e', [3])), precision: 'float64' }));
test('Pow by a constant 2', () =>
  checkOp({ build: (b, p) => b.pow(p('a', [2, 3]), b.constant(2, [], 'float32')), precision: 'float64' }));
test('Sqrt', () =>
  checkOp({ build: (b, p) => b.sqrt(p('a', [5], { positive: true })), precision: 'float64' }));
test('Neg', () => checkOp({ build: (b, p) => b.neg(p('a', [5])), precision: 'float64' }));
test('Exp', () => checkOp({ build: (b, p) => b.exp(p('a', [5])), precision: 'float64' }));
test('Log', () => checkOp({ build: (b, p) => b.log(p('a', [5], { positive: true })), precision: 'float64' }));
test('Sin', () => checkOp({ build: (b, p) => b.sin(p('a', [5])), precision: 'float64' }));
test('Cos', () => checkOp({ build: (b, p) => b.cos(p('a', [5])), precision: 'float64' }));
test('Relu (away from the kink)', () => checkOp({ build: (b, p) => b.relu(p('a', [16])) }));
test('Sigmoid', () => checkOp({ build: (b, p) => b.sigmoid(p('a', [6])), precision: 'float64' }));
test('Tanh', () => checkOp({ build: (b, p) => b.tanh(p('a', [6])), precision: 'float64' }));
test('Erf', () => checkOp({ build: (b, p) => b.erf(p('a', [6])) }));
test('SiLU as x * sigmoid(x): gradients accumulate over both uses of x', () =>
  checkOp({ build: (b, p) => b.silu(p('a', [6])), precision: 'float64' }));
test('Softmax', () => checkOp({ build: (b, p) => b.softmax(p('a', [2, 5]), -1), precision: 'float64' }));
test('Softmax over axis 1', () =>
  checkOp({ build: (b, p) => b.softmax(p('a', [2, 3, 2]), 1), precision: 'float64' }));
test('LogSoftmax', () =>
  checkOp({ build: (b, p) => b.logSoftmax(p('a', [2, 5]), -1), precision: 'float64' }));
test('Where', () =>
  checkOp({
    build: (b, p) =>
      b.where(b.constant(Uint8Array.from([1, 0, 1]), [3], 'bool'), p('a', [2, 3]), p('c', [1])),
    precision: 'float64',
  }));
test('Cast float -> float', () =>
  checkOp({ build: (b, p) => b.mul(b.cast(p('a', [4]), 'float32'), b.constant(3)), precision: 'float64' }));
test('Identity', () => checkOp({ build: (b, p) => b.identity(p('a', [4])), precision: 'float64' }));
test('ReduceSum over an axis, keepdims 0', () =>
  checkOp({ build: (b, p) => b.reduceSum(p('a', [2, 3, 4]), [1], false), precision: 'float64' }));
test('ReduceMean over two axes', () =>
  checkOp({ build: (b, p) => b.reduceMean(p('a', [2, 3, 4]), [0, -1], true), precision: 'float64' }));
test('ReduceMean with axes as an input (opset 18)', () =>
  checkOp({ build: (b, p) => b.reduceMean(p('a', [2, 3]), [1], true), opset: 18, precision: 'float64' }));
