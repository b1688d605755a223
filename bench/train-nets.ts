// The networks the training benchmarks time, shared by the bench, the profiler and the export for
// the PyTorch comparison: the tiny UNet (the model alignrun fine-tunes in the quickstart) at a
// fixed batch, and a small conv + attention block.
import { buildTinyUnet } from '../src/model/tiny/unet';
import { TINY } from '../src/model/tiny';
import { createRng } from '../src/util/rng';
import { GraphBuilder } from '../src/train/builder';
import type { TensorValue } from '../src/train/ir';
import type { onnx } from '../src/train/onnx';
import { Rng } from '../src/train/rng';

export interface BenchNet {
  name: string;
  model: onnx.ModelProto;
  /** Data inputs of one step; the forward output minus `target` is the error, loss mean-square. */
  feeds: Record<string, TensorValue>;
  /** Name of the forward output the loss is taken of. */
  output: string;
}

const f32 = (dims: number[], rng: Rng, std = 1): TensorValue => ({
  dtype: 'float32',
  dims,
  data: rng.fillNormal(new Float32Array(dims.reduce((a, d) => a * d, 1)), std) as Float32Array,
});

/** The tiny UNet of src/model/tiny with batch `n`, plus a target input: output `err` = out - target. */
export function tinyUnetNet(n = 8): BenchNet {
  const b = buildTinyUnet(
    {
      imageSize: TINY.imageSize,
      channels: TINY.channels,
      blockChannels: TINY.blockChannels,
      groups: TINY.groups,
      timeEmbedDim: TINY.timeEmbedDim,
      textWidth: TINY.textWidth,
      textLength: TINY.maxLength,
      attentionHeads: TINY.attentionHeads,
      batch: n,
    },
    createRng(0).fork('unet'),
  );
  const S = TINY.imageSize;
  const dims = [n, TINY.channels, S, S];
  const target = b.input('target', 'float32', dims);
  b.outputs.splice(0);
  b.output(b.identity(b.sub('out_sample', target), 'err'), 'float32', dims);
  const rng = new Rng(2);
  const timestep = Float32Array.from({ length: n }, (_, i) => (i * 997) % 1000);
  return {
    name: `tiny UNet (32/64 channels, 32x32, cross-attention), batch ${n}`,
    model: b.build(),
    output: 'err',
    feeds: {
      sample: f32(dims, rng),
      timestep: { dtype: 'float32', dims: [n], data: timestep },
      encoder_hidden_states: f32([n, TINY.maxLength, TINY.textWidth], rng),
      target: f32(dims, rng),
    },
  };
}

/** A conv + GroupNorm resblock and single-head self-attention, 32 channels, 16x16. */
export function blockNet(N = 2): BenchNet {
  const C = 32;
  const S = 16;
  const rng = new Rng(1);
  const b = new GraphBuilder();
  const w = (name: string, dims: number[], std: number) =>
    b.initializer(
      name,
      rng.fillNormal(new Float32Array(dims.reduce((p, d) => p * d, 1)), std) as Float32Array,
      dims,
    );
  const ones = (name: string) => b.initializer(name, new Float32Array(C).fill(1), [C]);
  const zeros = (name: string) => b.initializer(name, new Float32Array(C), [C]);
  const x = b.input('x', 'float32', [N, 4, S, S]);
  let h = b.conv(x, w('conv_in.w', [C, 4, 3, 3], 0.2), zeros('conv_in.b'), { pads: [1, 1, 1, 1] });
  let r = b.silu(b.groupNorm(h, ones('norm1.g'), zeros('norm1.b'), { groups: 8 }));
  r = b.conv(r, w('conv1.w', [C, C, 3, 3], 0.06), zeros('conv1.b'), { pads: [1, 1, 1, 1] });
  r = b.silu(b.groupNorm(r, ones('norm2.g'), zeros('norm2.b'), { groups: 8 }));
  r = b.conv(r, w('conv2.w', [C, C, 3, 3], 0.06), zeros('conv2.b'), { pads: [1, 1, 1, 1] });
  h = b.add(h, r);
  const t = b.transpose(b.reshape(h, [N, C, S * S]), [0, 2, 1]);
  const ln = b.layerNorm(t, ones('ln.g'), zeros('ln.b'));
  const q = b.matmul(ln, w('to_q', [C, C], 0.18));
  const k = b.matmul(ln, w('to_k', [C, C], 0.18));
  const v = b.matmul(ln, w('to_v', [C, C], 0.18));
  const scores = b.mul(b.matmul(q, b.transpose(k, [0, 2, 1])), b.constant(1 / Math.sqrt(C)));
  const attn = b.matmul(b.matmul(b.softmax(scores, -1), v), w('to_out', [C, C], 0.18));
  h = b.add(h, b.reshape(b.transpose(b.add(t, attn), [0, 2, 1]), [N, C, S, S]));
  const out = b.conv(b.silu(h), w('conv_out.w', [4, C, 3, 3], 0.06), undefined, { pads: [1, 1, 1, 1] });
  const target = b.input('target', 'float32', [N, 4, S, S]);
  b.output(b.identity(b.sub(out, target), 'err'), 'float32', [N, 4, S, S]);
  const drng = new Rng(2);
  return {
    name: `conv+groupnorm resblock + self-attention, batch ${N}, ${C} channels, ${S}x${S}`,
    model: b.build(),
    output: 'err',
    feeds: { x: f32([N, 4, S, S], drng), target: f32([N, 4, S, S], drng) },
  };
}

export function benchNet(which: string): BenchNet {
  if (which === 'unet') return tinyUnetNet();
  if (which === 'block') return blockNet();
  throw new Error(`Unknown network '${which}'; use unet or block.`);
}
