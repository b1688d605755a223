import { GraphBuilder } from '../../train/builder';
import type { Rng } from '../../util/rng';
import { Layers } from './layers';

export interface TinyUnetConfig {
  imageSize: number;
  channels: number;
  /** Feature channels at full and half resolution. */
  blockChannels: [number, number];
  groups: number;
  timeEmbedDim: number;
  textWidth: number;
  textLength: number;
  attentionHeads: number;
  /** Fixed batch size, or undefined for a symbolic batch dim. */
  batch?: number;
}

/**
 * A conditional UNet in pixel space: sinusoidal timestep embedding, ResNet blocks (GroupNorm,
 * SiLU, conv, timestep shift), cross-attention to the text, two down and two up levels joined
 * by skip connections. Inputs and output are named as in an SD export's unet.
 */
export function buildTinyUnet(config: TinyUnetConfig, rng: Rng): GraphBuilder {
  const {
    imageSize: S,
    channels,
    blockChannels: [c0, c1],
    groups,
    timeEmbedDim: T,
    textWidth,
  } = config;
  const b = new GraphBuilder({ name: 'tiny_unet', opset: 17 });
  const nn = new Layers(b, rng);
  const batch = config.batch ?? 'batch';
  const sample = b.input('sample', 'float32', [batch, channels, S, S]);
  // One timestep per sample, so training batches can mix noise levels.
  const timestep = b.input('timestep', 'float32', [batch]);
  const context = b.input('encoder_hidden_states', 'float32', [batch, config.textLength, textWidth]);

  const temb = timeEmbedding(nn, timestep, T);

  const resBlock = (name: string, x: string, inC: number, outC: number, size: number): string => {
    let h = nn.conv(
      `${name}.conv1`,
      nn.silu(nn.groupNorm(`${name}.norm1`, x, inC, size, size, groups)),
      inC,
      outC,
      3,
    );
    const shift = nn.linear(`${name}.time`, nn.silu(temb), T, outC);
    h = b.add(h, b.reshape(shift, [0, outC, 1, 1]));
    h = nn.conv(
      `${name}.conv2`,
      nn.silu(nn.groupNorm(`${name}.norm2`, h, outC, size, size, groups)),
      outC,
      outC,
      3,
    );
    const skip = inC === outC ? x : nn.conv(`${name}.skip`, x, inC, outC, 1);
    return b.add(skip, h);
  };

  const crossAttention = (name: string, x: string, c: number, size: number): string => {
    const n = nn.groupNorm(`${name}.norm`, x, c, size, size, groups);
    const tokens = b.transpose(b.reshape(n, [0, c, size * size]), [0, 2, 1]); // [N, HW, C]
    const q = nn.linear(`${name}.q`, tokens, c, c, false);
    const k = nn.linear(`${name}.k`, context, textWidth, c, false);
    const v = nn.linear(`${name}.v`, context, textWidth, c, false);
    const a = nn.linear(`${name}.out`, nn.attention(q, k, v, c, config.attentionHeads), c, c);
    const back = b.reshape(b.transpose(a, [0, 2, 1]), [0, c, size, size]);
    return b.add(x, back);
  };

  const half = S / 2;
  const quarter = S / 4;
  let x = nn.conv('conv_in', sample, channels, c0, 3);
  const skip0 = crossAttention('down0.attn', resBlock('down0.res', x, c0, c0, S), c0, S);
  x = nn.conv('down0.downsample', skip0, c0, c0, 3, 2);
  const skip1 = crossAttention('down1.attn', resBlock('down1.res', x, c0, c1, half), c1, half);
  x = nn.conv('down1.downsample', skip1, c1, c1, 3, 2);
  x = crossAttention('mid.attn', resBlock('mid.res', x, c1, c1, quarter), c1, quarter);
  x = b.concat([b.resize(x, [1, 1, 2, 2]), skip1], 1);
  x = crossAttention('up1.attn', resBlock('up1.res', x, 2 * c1, c1, half), c1, half);
  x = b.concat([b.resize(x, [1, 1, 2, 2]), skip0], 1);
  x = crossAttention('up0.attn', resBlock('up0.res', x, c1 + c0, c0, S), c0, S);
  x = nn.conv('conv_out', nn.silu(nn.groupNorm('norm_out', x, c0, S, S, groups)), c0, channels, 3);
  b.output(b.identity(x, 'out_sample'), 'float32', [batch, channels, S, S]);
  return b;
}

/** Transformer-style sinusoidal embedding of the timestep, then a two-layer MLP (as SD's UNet). */
function timeEmbedding(nn: Layers, timestep: string, dim: number): string {
  const b = nn.b;
  const half = dim / 2;
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  const angles = b.mul(b.unsqueeze(timestep, [1]), b.constant(freqs, [half], 'float32', 'time_freqs'));
  const sinusoid = b.concat([b.cos(angles), b.sin(angles)], 1);
  const h = nn.silu(nn.linear('time_mlp.fc1', sinusoid, dim, dim));
  return nn.linear('time_mlp.fc2', h, dim, dim);
}
