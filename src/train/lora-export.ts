// Trained LoRA adapters as diffusers' `pytorch_lora_weights.safetensors` — the file diffusers'
// train_text_to_image_lora.py writes and `pipe.load_lora_weights(dir)` loads.
//
// Keys: `unet.<torch module>.lora.down.weight` = A as [r, in] and `unet.<module>.lora.up.weight`
// = B as [out, r] (torch's Linear orientation; for a Conv A is [r, in, kh, kw] and B [out, r, 1, 1],
// peft's Conv2d LoRA). alignrun's adapters already hold A and B in that orientation whatever the
// ONNX weight's layout (see lora.ts). Metadata {format: 'pt'}, as diffusers writes it.
//
// Scale: alignrun applies W + (alpha / r)·B·A. diffusers (0.42, loaders/peft.py load_lora_adapter
// → utils/peft_utils.py get_peft_kwargs) reads alphas only from kohya-format files (`lora_unet_*`
// keys, lora_pipeline.py → _convert_non_diffusers_lora_to_diffusers) or from a
// `lora_adapter_metadata` LoraConfig; for `unet.*.lora.{down,up}` keys it sets lora_alpha = r,
// i.e. scale 1, and `.alpha` keys there would be unexpected keys. So the scale (alpha / r, times a
// Gemm's own alpha) is folded into up: loading gives exactly W + up·down = the merged update.
import { writeFileSync } from 'node:fs';
import { attrFloat, tensorValue } from './ir';
import type { LoraAdapter } from './lora';
import { moduleWeights, type ModuleWeight } from './module-names';
import type { onnx } from './onnx';

export interface SafetensorsTensor {
  dims: number[];
  data: Float32Array;
}

export interface DiffusersLoraOptions {
  /** Key prefix: the pipeline part (default 'unet'; 'transformer' for SD3's MMDiT). */
  prefix?: string;
  /** Module names of the adapted weights (default: moduleWeights of `trained`). */
  modules?: readonly ModuleWeight[];
}

/** A LoRA that has no diffusers form (weight without a torch module name, two adapters on one module). */
export class LoraExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoraExportError';
  }
}

/**
 * The diffusers LoRA tensors of trained adapters: `trained` is the adapted model with its trained
 * A / B values (Trainer.exportModel()), `adapters` addLora's list.
 */
export function diffusersLoraTensors(
  trained: onnx.IModelProto,
  adapters: readonly LoraAdapter[],
  options: DiffusersLoraOptions = {},
): Map<string, SafetensorsTensor> {
  const prefix = options.prefix ?? 'unet';
  const g = trained.graph ?? {};
  const inits = new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  const modules = new Map((options.modules ?? moduleWeights(trained)).map((m) => [m.initializer, m]));
  const out = new Map<string, SafetensorsTensor>();
  for (const ad of adapters) {
    const module = modules.get(ad.target)?.module;
    if (!module) {
      throw new LoraExportError(
        `The LoRA on weight '${ad.target}' cannot be written in diffusers' format because neither its name nor its node's name gives a torch module path; export the model with torch.onnx.export so node names keep module scopes.`,
      );
    }
    const read = (name: string) => {
      const t = inits.get(name);
      if (!t)
        throw new LoraExportError(
          `The trained model has no LoRA weight '${name}'; pass the adapted model (Trainer.exportModel()).`,
        );
      const v = tensorValue(t);
      return { dims: v.dims, data: Float32Array.from(v.data as Float32Array) };
    };
    const a = read(ad.a);
    const b = read(ad.b);
    const base = (g.node ?? []).find((n) => n.output?.[0] === ad.baseOutput);
    const gemmAlpha = ad.kind === 'Gemm' && base ? attrFloat(base, 'alpha', 1) : 1;
    const scale = ad.scale * gemmAlpha;
    for (let i = 0; i < b.data.length; i++) b.data[i] *= scale;
    const down = `${prefix}.${module}.lora.down.weight`;
    const up = `${prefix}.${module}.lora.up.weight`;
    if (out.has(down)) {
      throw new LoraExportError(
        `Two LoRA adapters update module '${module}' (its weight is shared by several nodes), which diffusers' format cannot hold; target it once.`,
      );
    }
    out.set(down, a);
    out.set(up, b);
  }
  return out;
}

/** Writes the adapters as diffusers' pytorch_lora_weights.safetensors (see diffusersLoraTensors). */
export function writeDiffusersLora(
  file: string,
  trained: onnx.IModelProto,
  adapters: readonly LoraAdapter[],
  options: DiffusersLoraOptions = {},
): void {
  writeFileSync(file, encodeSafetensors(diffusersLoraTensors(trained, adapters, options), { format: 'pt' }));
}

/**
 * The safetensors format (F32 tensors): u64 little-endian header length, the JSON header
 * ({name: {dtype, shape, data_offsets}}, `__metadata__`), padded with spaces to 8 bytes, then
 * the little-endian data. Keys are written sorted.
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, SafetensorsTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const n = t.dims.reduce((s, d) => s * d, 1);
    if (n !== t.data.length)
      throw new Error(`Tensor '${name}' has ${t.data.length} values for shape [${t.dims}].`);
    header[name] = { dtype: 'F32', shape: t.dims, data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const bytes = new Uint8Array(8 + head.length + offset);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(head.length), true);
  bytes.set(head, 8);
  let at = 8 + head.length;
  for (const name of names) {
    for (const v of tensors.get(name)!.data) {
      view.setFloat32(at, v, true);
      at += 4;
    }
  }
  return bytes;
}

/** Reads a safetensors file's F32 tensors and metadata (the inverse of encodeSafetensors). */
export function decodeSafetensors(bytes: Uint8Array): {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
} {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const metadata = (header.__metadata__ ?? {}) as unknown as Record<string, string>;
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (info.dtype !== 'F32') throw new Error(`Tensor '${name}' is ${info.dtype}; only F32 is read.`);
    const [s, e] = info.data_offsets;
    const data = new Float32Array((e - s) / 4);
    for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(8 + n + s + 4 * i, true);
    tensors.set(name, { dims: info.shape, data });
  }
  return { tensors, metadata };
}
