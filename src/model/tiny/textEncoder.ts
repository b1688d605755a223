import { GraphBuilder } from '../../train/builder';
import type { Rng } from '../../util/rng';
import { Layers } from './layers';

export interface TinyTextEncoderConfig {
  vocabSize: number;
  /** Tokens per prompt (fixed: position embeddings have one row per slot). */
  maxLength: number;
  width: number;
  layers: number;
  heads: number;
  /** Fixed batch size, or undefined for a symbolic batch dim. */
  batch?: number;
}

/**
 * A CLIP-style text transformer: token + position embeddings, pre-LayerNorm blocks of causal
 * self-attention and a quick-GELU MLP, final LayerNorm. input_ids [N, L] int32 ->
 * last_hidden_state [N, L, width], as an SD export's text_encoder.
 */
export function buildTinyTextEncoder(config: TinyTextEncoderConfig, rng: Rng): GraphBuilder {
  const { vocabSize, maxLength: L, width: D, heads } = config;
  const b = new GraphBuilder({ name: 'tiny_text_encoder', opset: 17 });
  const nn = new Layers(b, rng);
  const batch = config.batch ?? 'batch';
  const ids = b.input('input_ids', 'int32', [batch, L]);
  const tokens = b.gather(nn.weight('embeddings.token', [vocabSize, D], 0.02 * Math.sqrt(D)), ids);
  let x = b.add(tokens, nn.weight('embeddings.position', [L, D], 0.01 * Math.sqrt(D)));
  // Causal: a token sees itself and earlier tokens only, as in CLIP.
  const mask = new Float32Array(L * L);
  for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) mask[i * L + j] = -1e9;
  const causal = b.constant(mask, [L, L], 'float32', 'causal_mask');
  for (let i = 0; i < config.layers; i++) {
    const p = `layers.${i}`;
    const h = nn.layerNorm(`${p}.ln1`, x, D);
    const q = nn.linear(`${p}.attn.q`, h, D, D);
    const k = nn.linear(`${p}.attn.k`, h, D, D);
    const v = nn.linear(`${p}.attn.v`, h, D, D);
    const a = nn.linear(`${p}.attn.out`, nn.attention(q, k, v, D, heads, causal), D, D);
    x = b.add(x, a);
    const m = nn.layerNorm(`${p}.ln2`, x, D);
    const up = nn.quickGelu(nn.linear(`${p}.mlp.fc1`, m, D, 4 * D));
    x = b.add(x, nn.linear(`${p}.mlp.fc2`, up, 4 * D, D));
  }
  const out = nn.layerNorm('final_ln', x, D);
  b.output(b.identity(out, 'last_hidden_state'), 'float32', [batch, L, D]);
  return b;
}
