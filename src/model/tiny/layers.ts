import type { GraphBuilder } from '../../train/builder';
import type { Rng } from '../../util/rng';

/**
 * Network layers for the tiny model, each written as plain standard ONNX ops that alignrun's
 * training engine differentiates. Every reshape names its dims (0 keeps the batch dim), so a graph
 * built with a symbolic batch and one built with a fixed batch differ only in their I/O shapes.
 */
export class Layers {
  constructor(
    readonly b: GraphBuilder,
    private readonly rng: Rng,
  ) {}

  /** A weight drawn from N(0, std^2), reproducible from the builder's seed and call order. */
  weight(name: string, dims: number[], std: number): string {
    const n = dims.reduce((a, d) => a * d, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = this.rng.normal() * std;
    return this.b.initializer(name, data, dims);
  }

  filled(name: string, dims: number[], value: number): string {
    const n = dims.reduce((a, d) => a * d, 1);
    return this.b.initializer(name, new Float32Array(n).fill(value), dims);
  }

  /** x @ W + b over the last axis (He-style init: std 1/sqrt(fan_in)). */
  linear(name: string, x: string, inDim: number, outDim: number, bias = true): string {
    const y = this.b.matmul(x, this.weight(`${name}.weight`, [inDim, outDim], 1 / Math.sqrt(inDim)));
    return bias ? this.b.add(y, this.filled(`${name}.bias`, [outDim], 0)) : y;
  }

  conv(name: string, x: string, inC: number, outC: number, kernel: number, stride = 1): string {
    const w = this.weight(
      `${name}.weight`,
      [outC, inC, kernel, kernel],
      1 / Math.sqrt(inC * kernel * kernel),
    );
    const pad = (kernel - 1) >> 1;
    return this.b.conv(x, w, this.filled(`${name}.bias`, [outC], 0), {
      strides: [stride, stride],
      pads: [pad, pad, pad, pad],
    });
  }

  layerNorm(name: string, x: string, dim: number): string {
    return this.b.layerNorm(
      x,
      this.filled(`${name}.weight`, [dim], 1),
      this.filled(`${name}.bias`, [dim], 0),
      {
        axis: -1,
        epsilon: 1e-5,
      },
    );
  }

  /**
   * GroupNorm on [N, C, H, W] through InstanceNormalization on [N, G, C/G*H*W]. Static reshapes
   * (no Shape op), unlike the builder's groupNorm, so the trainer sees only fixed dims.
   */
  groupNorm(name: string, x: string, c: number, h: number, w: number, groups: number): string {
    if (!Number.isInteger(c / groups)) {
      throw new Error(`GroupNorm '${name}': ${c} channels do not split into ${groups} groups.`);
    }
    const b = this.b;
    const grouped = b.reshape(x, [0, groups, (c / groups) * h * w]);
    const normed = b.instanceNorm(
      grouped,
      b.constant(new Float32Array(groups).fill(1), [groups]),
      b.constant(new Float32Array(groups), [groups]),
      1e-5,
    );
    const back = b.reshape(normed, [0, c, h, w]);
    const scale = b.reshape(this.filled(`${name}.weight`, [c], 1), [c, 1, 1]);
    const shift = b.reshape(this.filled(`${name}.bias`, [c], 0), [c, 1, 1]);
    return b.add(b.mul(back, scale), shift);
  }

  silu(x: string): string {
    return this.b.silu(x);
  }

  /** CLIP's GELU approximation, x * sigmoid(1.702 x). */
  quickGelu(x: string): string {
    return this.b.mul(x, this.b.sigmoid(this.b.mul(x, this.b.constant(1.702))));
  }

  /**
   * Multi-head attention of queries [N, Lq, dim] over keys/values [N, Lk, dim], already projected;
   * `mask` (additive, [Lq, Lk]) is optional. Returns [N, Lq, dim].
   */
  attention(q: string, k: string, v: string, dim: number, heads: number, mask?: string): string {
    const b = this.b;
    const dh = dim / heads;
    const split = (x: string, perm: number[]) => b.transpose(b.reshape(x, [0, 0, heads, dh]), perm);
    const qh = split(q, [0, 2, 1, 3]); // [N, H, Lq, dh]
    const kh = split(k, [0, 2, 3, 1]); // [N, H, dh, Lk]
    const vh = split(v, [0, 2, 1, 3]); // [N, H, Lk, dh]
    let scores = b.mul(b.matmul(qh, kh), b.constant(1 / Math.sqrt(dh)));
    if (mask) scores = b.add(scores, mask);
    const out = b.matmul(b.softmax(scores, -1), vh); // [N, H, Lq, dh]
    return b.reshape(b.transpose(out, [0, 2, 1, 3]), [0, 0, dim]);
  }
}
