import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { onnx } from '../../src/train/onnx';
import {
  attrFloat,
  attrInts,
  attrString,
  float16BitsToNumber,
  loadModel,
  makeAttribute,
  makeTensor,
  numberToFloat16Bits,
  saveModel,
  tensorValue,
} from '../../src/train/ir';
import { GraphBuilder } from '../../src/train/builder';

test('typed arrays round-trip through TensorProto for every supported dtype', () => {
  const cases = [
    new Float32Array([1.5, -2, 3]),
    new Float64Array([Math.PI, -1e-300]),
    new BigInt64Array([1n, -2n, 9007199254740993n]),
    new Int32Array([7, -8]),
    new Uint16Array([numberToFloat16Bits(0.5), numberToFloat16Bits(-3)]),
  ];
  for (const data of cases) {
    const t = onnx.TensorProto.decode(onnx.TensorProto.encode(makeTensor('t', data, [data.length])).finish());
    const v = tensorValue(t);
    assert.deepEqual(Array.from(v.data as ArrayLike<unknown>), Array.from(data as ArrayLike<unknown>));
    assert.deepEqual(v.dims, [data.length]);
  }
  const bool = tensorValue(makeTensor('b', Uint8Array.from([1, 0]), [2], 'bool'));
  assert.equal(bool.dtype, 'bool');
});

test('typed-field tensors (float_data, int64_data) are read too', () => {
  const f = tensorValue({ name: 'f', dataType: 1, dims: [2], floatData: [1, 2] });
  assert.deepEqual(Array.from(f.data as Float32Array), [1, 2]);
  const i = tensorValue(
    onnx.TensorProto.decode(
      onnx.TensorProto.encode({ name: 'i', dataType: 7, dims: [2], int64Data: [5, -6] }).finish(),
    ),
  );
  assert.deepEqual(Array.from(i.data as BigInt64Array), [5n, -6n]);
  assert.throws(
    () => tensorValue({ name: 'bad', dataType: 1, dims: [3], floatData: [1] }),
    /'bad' holds 1 values/,
  );
});

test('float16 bits convert both ways with round-to-nearest', () => {
  for (const v of [0, 1, -2.5, 65504, 6.103515625e-5, 5.960464477539063e-8]) {
    assert.equal(float16BitsToNumber(numberToFloat16Bits(v)), v);
  }
  assert.equal(float16BitsToNumber(numberToFloat16Bits(1 + 1 / 4096)), 1);
  assert.equal(float16BitsToNumber(numberToFloat16Bits(1e6)), Infinity);
});

test('attributes: ints, floats forced from integers, strings', () => {
  const node = {
    attribute: [
      makeAttribute('pads', [1, 1]),
      makeAttribute('epsilon', 1, true),
      makeAttribute('mode', 'nearest'),
    ],
  };
  assert.deepEqual(attrInts(node, 'pads'), [1, 1]);
  assert.equal(attrFloat(node, 'epsilon', 0), 1);
  assert.equal(node.attribute[1].type, onnx.AttributeProto.AttributeType.FLOAT);
  assert.equal(attrString(node, 'mode', ''), 'nearest');
  assert.equal(attrString(node, 'missing', 'x'), 'x');
});

test('external data: saved with offsets, loaded back inline; errors name the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'alignrun-ir-'));
  try {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [4]);
    b.initializer(
      'big1',
      new Float32Array(300).map((_, i) => i),
      [300],
    );
    b.initializer(
      'big2',
      new Float64Array(200).map((_, i) => -i),
      [200],
    );
    b.initializer('small', Float32Array.from([1, 2, 3, 4]), [4]);
    b.output(b.identity(b.add(x, 'small'), 'y'), 'float32', [4]);
    const path = join(dir, 'm.onnx');
    saveModel(b.build(), path, { externalDataThreshold: 512 });
    const raw = onnx.ModelProto.decode(readFileSync(path));
    const big2 = raw.graph!.initializer!.find((t) => t.name === 'big2')!;
    const entries = Object.fromEntries(big2.externalData!.map((e) => [e.key, e.value]));
    assert.equal(entries.location, 'm.onnx.data');
    assert.equal(Number(entries.offset) % 4096, 0);
    assert.equal(Number(entries.length), 1600);
    const loaded = loadModel(path);
    const v = tensorValue(loaded.graph!.initializer!.find((t) => t.name === 'big2')!);
    assert.equal((v.data as Float64Array)[199], -199);
    assert.equal(
      (tensorValue(loaded.graph!.initializer!.find((t) => t.name === 'big1')!).data as Float32Array)[299],
      299,
    );
    writeFileSync(join(dir, 'm.onnx.data'), new Uint8Array(10));
    assert.throws(() => loadModel(path), /ends before tensor/);
    assert.throws(() => loadModel(join(dir, 'nope.onnx')), /does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
