// Expands a sweep into trial assignments: an explicit `trials` list as written, grid = the
// cartesian product of `parameters` (last parameter varies fastest), random = max_trials draws
// that depend only on (seed, trial, path), so adding a parameter never reshuffles the others.
import { createHash } from 'node:crypto';
import type { SweepParameter } from './sweep-schema';
import type { Sweep } from './types.gen';

export type Assignment = Record<string, unknown>;

/** The most trials a plan holds (the schema's limit on max_trials). */
export const MAX_TRIALS = 10_000;

/** Trials in the full grid: the product of each parameter's value count, computed, not built. */
export function gridSize(sweep: Sweep): number {
  if (sweep.trials) return sweep.trials.length;
  return (Object.values(sweep.parameters ?? {}) as SweepParameter[]).reduce((n, p) => n * gridCount(p), 1);
}

export function expandSweep(sweep: Sweep | undefined): Assignment[] {
  if (!sweep) return [{}];
  if (sweep.trials) return sweep.trials.map((t) => ({ ...t }));
  const entries = Object.entries(sweep.parameters ?? {}) as [string, SweepParameter][];
  if (sweep.method === 'random') {
    const n = sweep.max_trials ?? 1;
    return Array.from({ length: n }, (_, t) =>
      Object.fromEntries(entries.map(([path, p]) => [path, draw(p, unitDraw(sweep.seed ?? 0, t, path))])),
    );
  }
  // Trial t of the grid decoded in mixed radix (the last parameter varies fastest), so a capped
  // grid builds only its first max_trials trials however large the product is.
  const n = Math.min(sweep.max_trials ?? Infinity, gridSize(sweep));
  if (n > MAX_TRIALS) {
    throw new RangeError(`the grid has ${gridSize(sweep)} trials, more than ${MAX_TRIALS}; set max_trials.`);
  }
  const counts = entries.map(([, p]) => gridCount(p));
  return Array.from({ length: n }, (_, t) => {
    const a: Assignment = {};
    let rest = t;
    for (let k = entries.length - 1; k >= 0; k--) {
      a[entries[k][0]] = gridValue(entries[k][1], rest % counts[k]);
      rest = Math.floor(rest / counts[k]);
    }
    // Keys in parameter order, as the product built them.
    return Object.fromEntries(entries.map(([path]) => [path, a[path]]));
  });
}

function gridCount(p: SweepParameter): number {
  if (Array.isArray(p)) return p.length;
  if ('distribution' in p) {
    if (p.distribution === 'int') return Math.max(0, p.max! - p.min! + 1);
    return p.values?.length ?? 0;
  }
  return p.values.length;
}

function gridValue(p: SweepParameter, i: number): unknown {
  if (Array.isArray(p)) return p[i];
  if ('distribution' in p) return p.distribution === 'int' ? p.min! + i : p.values![i];
  return p.values[i];
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
