import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GraphBuilder } from '../../src/train/builder';
import { loadModel, makeTensor, tensorValue } from '../../src/train/ir';
import { addLora, mergeLora, type LoraModel } from '../../src/train/lora';
import {
  decodeSafetensors,
  diffusersLoraTensors,
  encodeSafetensors,
  LoraExportError,
  writeDiffusersLora,
  type SafetensorsTensor,
} from '../../src/train/lora-export';
import { moduleWeights, resolveLoraTargets } from '../../src/train/module-names';
import type { onnx } from '../../src/train/onnx';
import { Rng } from '../../src/train/rng';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'sd-tiny');
const ATTENTION = ['to_q', 'to_k', 'to_v', 'to_out.0'];

function adapted(model: onnx.ModelProto, targets: string[], alpha: number): LoraModel {
  const names = new Set(resolveLoraTargets(model, targets));
  const lora = addLora(model, { match: (n) => names.has(n), rank: 4, alpha, seed: 1 });
  // "Training": B away from zero, so the update is not trivially zero.
  const rng = new Rng(9);
  const bs = new Set(lora.adapters.map((a) => a.b));
  const g = lora.model.graph!;
  g.initializer = (g.initializer ?? []).map((t) => {
    if (!bs.has(t.name ?? '')) return t;
    const v = tensorValue(t);
    return makeTensor(t.name!, rng.fillNormal(new Float32Array(v.data.length), 0.1) as Float32Array, v.dims);
  });
  return lora;
}

/** merged − base, as torch's weight [out, in...] (MatMul weights are stored [in, out]). */
function torchDelta(base: onnx.ModelProto, merged: onnx.ModelProto, init: string, transposed: boolean) {
  const find = (m: onnx.ModelProto) =>
    tensorValue((m.graph?.initializer ?? []).find((t) => t.name === init)!);
  const w0 = find(base);
  const w1 = find(merged);
  const d = (w1.data as Float32Array).map((v, i) => v - (w0.data as Float32Array)[i]);
  if (!transposed) return d;
  const [inF, outF] = w0.dims;
  const t = new Float32Array(d.length);
  for (let i = 0; i < inF; i++) for (let o = 0; o < outF; o++) t[o * inF + i] = d[i * outF + o];
  return t;
}

function upDown(up: { dims: number[]; data: Float32Array }, down: { data: Float32Array }) {
  const [out, r] = up.dims;
  const inF = down.data.length / r;
  const p = new Float32Array(out * inF);
  for (let o = 0; o < out; o++)
    for (let i = 0; i < inF; i++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += up.data[o * r + k] * down.data[k * inF + i];
      p[o * inF + i] = s;
    }
  return p;
}

/** diffusers adds up @ down to each torch weight: that must equal mergeLora's change to it. */
function assertDeltasMatch(
  base: onnx.ModelProto,
  lora: LoraModel,
  tensors: ReadonlyMap<string, SafetensorsTensor>,
) {
  const merged = mergeLora(lora.model, lora.adapters);
  const modules = new Map(moduleWeights(base).map((w) => [w.initializer, w]));
  for (const ad of lora.adapters) {
    const m = modules.get(ad.target)!;
    const up = tensors.get(`unet.${m.module}.lora.up.weight`)!;
    const down = tensors.get(`unet.${m.module}.lora.down.weight`)!;
    assertClose(upDown(up, down), torchDelta(base, merged, ad.target, m.transposed), m.module!);
  }
}

function assertClose(a: Float32Array, b: Float32Array, what: string) {
  assert.equal(a.length, b.length, what);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1e-3 + Math.abs(b[i])));
  assert.ok(worst < 1e-4, `${what}: relative error ${worst}`);
}

for (const layout of ['pipeline', 'conversion', 'optimum']) {
  test(`the LoRA file has diffusers' keys and shapes, and loading it adds the merged update (${layout})`, () => {
    const base = loadModel(join(FIXTURE, layout, 'unet', 'model.onnx'));
    const lora = adapted(base, ATTENTION, 8); // scale alpha / r = 2, folded into up
    const dir = mkdtempSync(join(tmpdir(), 'alignrun-lora-'));
    try {
      const file = join(dir, 'pytorch_lora_weights.safetensors');
      writeDiffusersLora(file, lora.model, lora.adapters);
      const { tensors, metadata } = decodeSafetensors(readFileSync(file));
      const want = JSON.parse(readFileSync(join(FIXTURE, 'golden', 'lora-keys.json'), 'utf8')) as {
        keys: Record<string, number[]>;
        metadata: Record<string, string>;
      };
      assert.deepEqual(metadata, want.metadata);
      assert.deepEqual(
        Object.fromEntries([...tensors].map(([k, v]) => [k, v.dims]).sort()),
        Object.fromEntries(Object.entries(want.keys).sort()),
      );
      // diffusers loads this format with scale 1: W_torch + up @ down must equal mergeLora's W.
      assertDeltasMatch(base, lora, tensors);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('conv and Gemm adapters export in peft form: down [r, in, kh, kw], up [out, r, 1, 1]', () => {
  const base = loadModel(join(FIXTURE, 'pipeline', 'unet', 'model.onnx'));
  const lora = adapted(base, ['down_blocks.0.resnets.0.conv1', 'time_emb_proj'], 4);
  const tensors = diffusersLoraTensors(lora.model, lora.adapters);
  const conv = 'unet.down_blocks.0.resnets.0.conv1.lora';
  assert.deepEqual(tensors.get(`${conv}.down.weight`)!.dims, [4, 16, 3, 3]);
  assert.deepEqual(tensors.get(`${conv}.up.weight`)!.dims, [16, 4, 1, 1]);
  assert.deepEqual(tensors.get('unet.mid_block.resnets.0.time_emb_proj.lora.down.weight')!.dims, [4, 64]);
  assert.deepEqual(tensors.get('unet.mid_block.resnets.0.time_emb_proj.lora.up.weight')!.dims, [32, 4]);
  assertDeltasMatch(base, lora, tensors);
});

test('a weight with no torch module name is refused with one sentence', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [1, 3]);
  b.output(b.identity(b.matmul(x, b.initializer('w0', new Float32Array(6), [3, 2])), 'y'), 'float32', [1, 2]);
  const lora = addLora(b.build(), { match: /w0/, rank: 1 });
  assert.throws(
    () => diffusersLoraTensors(lora.model, lora.adapters),
    (e: unknown) => e instanceof LoraExportError && /'w0'.*torch module path/.test(e.message),
  );
});

test('safetensors round trip: 8-byte aligned header, sorted keys, little-endian F32', () => {
  const tensors = new Map([
    ['b', { dims: [2], data: Float32Array.of(1.5, -2) }],
    ['a', { dims: [1, 3], data: Float32Array.of(0.25, 3, 1e-8) }],
  ]);
  const bytes = encodeSafetensors(tensors, { format: 'pt' });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0);
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString());
  assert.deepEqual(Object.keys(header), ['__metadata__', 'a', 'b']);
  assert.deepEqual(header.a, { dtype: 'F32', shape: [1, 3], data_offsets: [0, 12] });
  assert.equal(bytes.length, 8 + n + 20);
  const back = decodeSafetensors(bytes);
  assert.deepEqual(back.metadata, { format: 'pt' });
  assert.deepEqual([...back.tensors.get('a')!.data], [...tensors.get('a')!.data]);
  assert.deepEqual(back.tensors.get('b')!.dims, [2]);
});
