// Training checkpoints: weights, optimiser state, step and RNG state in one folder, written
// atomically (a temporary folder renamed into place), so a crash never leaves half a checkpoint.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { OptimizerState, Tensors } from './optim';

export interface Checkpoint {
  step: number;
  params: Tensors;
  optimizer: OptimizerState;
  rngState: Uint32Array;
  /** Exponential moving average of the weights, when the trainer keeps one. */
  ema?: Tensors;
  /** Free-form JSON metadata (run id, schedule...). */
  meta?: Record<string, unknown>;
}

interface Entry {
  group: string;
  name: string;
  offset: number;
  length: number;
}

const MANIFEST = 'checkpoint.json';
const DATA = 'tensors.bin';

export function saveCheckpoint(dir: string, ckpt: Checkpoint): void {
  const entries: Entry[] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  const add = (group: string, tensors: Tensors) => {
    for (const name of Object.keys(tensors).sort()) {
      const t = tensors[name];
      entries.push({ group, name, offset, length: t.length });
      chunks.push(Buffer.from(t.buffer, t.byteOffset, t.byteLength));
      offset += t.byteLength;
    }
  };
  add('params', ckpt.params);
  for (const [slot, tensors] of Object.entries(ckpt.optimizer.slots)) add(`optimizer.${slot}`, tensors);
  if (ckpt.ema) add('ema', ckpt.ema);
  const manifest = {
    format: 'alignrun-checkpoint-1',
    step: ckpt.step,
    optimizer: {
      kind: ckpt.optimizer.kind,
      step: ckpt.optimizer.step,
      slots: Object.keys(ckpt.optimizer.slots),
    },
    rngState: Array.from(ckpt.rngState),
    meta: ckpt.meta ?? {},
    tensors: entries,
  };
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  writeFileSync(join(tmp, DATA), Buffer.concat(chunks));
  writeFileSync(join(tmp, MANIFEST), JSON.stringify(manifest, null, 1));
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

export function loadCheckpoint(dir: string): Checkpoint {
  const manifestPath = join(dir, MANIFEST);
  if (!existsSync(manifestPath))
    throw new Error(`'${dir}' is not a checkpoint folder (no ${MANIFEST}); check the path.`);
  const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
  if (m.format !== 'alignrun-checkpoint-1')
    throw new Error(`Checkpoint '${dir}' has unknown format '${m.format}'.`);
  const data = readFileSync(join(dir, DATA));
  const groups: Record<string, Tensors> = {};
  for (const e of m.tensors as Entry[]) {
    if (e.offset + e.length * 4 > data.byteLength)
      throw new Error(`Checkpoint '${dir}' is truncated (tensor '${e.name}').`);
    const bytes = new Uint8Array(data.buffer, data.byteOffset + e.offset, e.length * 4).slice();
    (groups[e.group] ??= {})[e.name] = new Float32Array(bytes.buffer);
  }
  const slots: Record<string, Tensors> = {};
  for (const s of m.optimizer.slots as string[]) slots[s] = groups[`optimizer.${s}`] ?? {};
  return {
    step: m.step,
    params: groups.params ?? {},
    optimizer: { kind: m.optimizer.kind, step: m.optimizer.step, slots },
    rngState: Uint32Array.from(m.rngState),
    ema: groups.ema,
    meta: m.meta,
  };
}
