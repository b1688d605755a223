// Expands a sweep into trial assignments: grid = the cartesian product (last parameter varies
// fastest), random = max_trials draws that depend only on (seed, trial, path), so adding a
// parameter never reshuffles the others.
import { createHash } from 'node:crypto';
import type { SweepParameter } from './sweep-schema';
import type { Sweep } from './types.gen';

export type Assignment = Record<string, unknown>;

export function expandSweep(sweep: Sweep | undefined): Assignment[] {
  if (!sweep) return [{}];
  const entries = Object.entries(sweep.parameters) as [string, SweepParameter][];
  if (sweep.method === 'random') {
    const n = sweep.max_trials ?? 1;
    return Array.from({ length: n }, (_, t) =>
      Object.fromEntries(entries.map(([path, p]) => [path, draw(p, unitDraw(sweep.seed ?? 0, t, path))])),
    );
  }
  let trials: Assignment[] = [{}];
  for (const [path, p] of entries) {
    const values = gridValues(p);
    trials = trials.flatMap((a) => values.map((v) => ({ ...a, [path]: v })));
  }
  return sweep.max_trials !== undefined ? trials.slice(0, sweep.max_trials) : trials;
}

function gridValues(p: SweepParameter): unknown[] {
  if (Array.isArray(p)) return p;
  if ('distribution' in p) {
    if (p.distribution === 'int') return Array.from({ length: p.max! - p.min! + 1 }, (_, i) => p.min! + i);
    return p.values ?? [];
  }
  return p.values;
}

/** A uniform number in [0, 1) from a hash, independent per (seed, trial, path). */
function unitDraw(seed: number, trial: number, path: string): number {
  const h = createHash('sha256').update(`${seed}:${trial}:${path}`).digest();
  return h.readUIntBE(0, 6) / 2 ** 48;
}

function draw(p: SweepParameter, u: number): unknown {
  const pick = (vs: unknown[]) => vs[Math.min(vs.length - 1, Math.floor(u * vs.length))];
  if (Array.isArray(p)) return pick(p);
  if (!('distribution' in p)) return pick(p.values);
  const { min = 0, max = 1 } = p;
  switch (p.distribution) {
    case 'uniform':
      return min + u * (max - min);
    case 'log_uniform':
      return Math.exp(Math.log(min) + u * (Math.log(max) - Math.log(min)));
    case 'int':
      return min + Math.min(max - min, Math.floor(u * (max - min + 1)));
    case 'choice':
      return pick(p.values ?? []);
  }
}

/** Sets a dotted path in a plain object (the path was checked against the schema). */
export function setPath(obj: Record<string, any>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let o = obj;
  for (const p of parts.slice(0, -1)) {
    if (o[p] === undefined || o[p] === null || typeof o[p] !== 'object') o[p] = {};
    o = o[p];
  }
  o[parts[parts.length - 1]] = value;
}
