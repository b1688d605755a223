import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../../src/train/builder';
import { buildTrainingGraph } from '../../src/train/engine';
import { makeTensor, tensorValue } from '../../src/train/ir';
import { addLora, mergeLora } from '../../src/train/lora';
import type { onnx } from '../../src/train/onnx';
import { Rng } from '../../src/train/rng';
import { createSession, runSession } from '../../src/train/session';

function base() {
  const rng = new Rng(5);
  const w = (n: number) => rng.fillNormal(new Float32Array(n), 0.3) as Float32Array;
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [1, 3, 5, 5]);
  const c = b.conv(x, b.initializer('down.conv', w(4 * 3 * 9), [4, 3, 3, 3]), undefined, {
    strides: [2, 2],
    pads: [1, 1, 1, 1],
  });
  const tokens = b.transpose(b.reshape(c, [1, 4, 9]), [0, 2, 1]);
  const q = b.matmul(tokens, b.initializer('attn.to_q', w(4 * 6), [4, 6]));
  const k = b.gemm(
    b.reshape(tokens, [9, 4]),
    b.initializer('attn.to_k', w(6 * 4), [6, 4]),
    b.initializer('attn.to_k.bias', w(6), [6]),
    {
      transB: true,
      alpha: 0.5,
    },
  );
  b.output(b.identity(b.add(q, b.reshape(k, [1, 9, 6])), 'y'), 'float32', [1, 9, 6]);
  return b.build();
}

async function run(model: onnx.IModelProto, x: Float32Array) {
  const out = await runSession(await createSession(model), {
    x: { dtype: 'float32', dims: [1, 3, 5, 5], data: x },
  });
  return out.y.data as Float32Array;
}

/** Fills every lora_B with random values (trained adapters are non-zero). */
function randomiseB(model: onnx.ModelProto): onnx.ModelProto {
  const rng = new Rng(9);
  model.graph!.initializer = model.graph!.initializer!.map((t) => {
    if (!t.name!.includes('lora_B')) return t;
    const v = tensorValue(t);
    return makeTensor(t.name!, rng.fillNormal(new Float32Array(v.data.length), 0.5) as Float32Array, v.dims);
  });
  return model;
}

test('a fresh adapter leaves the output unchanged; merged == adapter + base within 1e-5', async () => {
  const x = new Rng(1).fillNormal(new Float32Array(75)) as Float32Array;
  const m = base();
  const lora = addLora(m, { match: /conv|to_q|to_k$/, rank: 2, alpha: 4 });
  assert.deepEqual(
    lora.adapters.map((a) => a.kind),
    ['Conv', 'MatMul', 'Gemm'],
  );
  const y0 = await run(m, x);
  const y1 = await run(lora.model, x);
  y0.forEach((v, i) => assert.ok(Math.abs(v - y1[i]) < 1e-6));
  const trained = randomiseB(lora.model);
  const yAdapted = await run(trained, x);
  const merged = mergeLora(trained, lora.adapters);
  assert.equal(merged.graph!.node!.length, m.graph!.node!.length, 'merged graph has the base structure');
  assert.ok(!merged.graph!.initializer!.some((t) => t.name!.includes('lora')));
  const yMerged = await run(merged, x);
  let worst = 0;
  yAdapted.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - yMerged[i]))));
  assert.ok(worst < 1e-5, `merged differs by ${worst}`);
  assert.ok(
    yAdapted.some((v, i) => Math.abs(v - y0[i]) > 1e-2),
    'the adapters do change the output',
  );
});

test('only adapters train: base weights stay frozen initializers', async () => {
  const lora = addLora(base(), { match: /to_q/, rank: 2 });
  const t = await buildTrainingGraph(lora.model, { trainable: lora.trainable });
  const inputs = t.graph!.input!.map((i) => i.name);
  assert.deepEqual(inputs, ['x', 'attn.to_q.lora_A', 'attn.to_q.lora_B']);
  assert.ok(t.graph!.initializer!.some((i) => i.name === 'attn.to_q'));
  assert.throws(() => addLora(base(), { match: /nothing/, rank: 2 }), /No MatMul\/Gemm\/Conv weight matches/);
});
