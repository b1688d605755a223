/**
 * A small seeded pseudo-random number generator (mulberry32), deterministic across
 * platforms: it uses only 32-bit integer arithmetic (`Math.imul`, `>>>`), never
 * `Math.random`, so the same seed gives the same stream in Node, browsers and Temporal
 * workflow code.
 */

/** 32-bit FNV-1a hash of a string's UTF-16 code units, finished with a murmur3 mix. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h);
}

/** The murmur3 finaliser: spreads every input bit over the output. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A seed is an integer (its low 32 bits are used) or any string (hashed). */
export type Seed = number | string;

function seedToState(seed: Seed): number {
  if (typeof seed === 'string') return hashString(seed);
  if (!Number.isFinite(seed))
    throw new Error(`Random seed ${seed} is not a finite number: pass an integer or a string.`);
  // Fold in the high bits so seeds above 2^32 still differ.
  return mix32((Math.trunc(seed) >>> 0) ^ Math.trunc(seed / 0x100000000));
}

export class Rng {
  /** The seed state this generator started from; forks derive from it, not from the current state. */
  private readonly origin: number;
  private state: number;
  private spareNormal: number | null = null;

  constructor(seed: Seed) {
    this.origin = seedToState(seed);
    this.state = this.origin;
  }

  /** Uniform in [0, 1), 32 bits of resolution. */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.int(n) needs a positive integer n, got ${n}.`);
    return Math.floor(this.next() * n);
  }

  /** Uniform number in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick needs a non-empty array.');
    return items[this.int(items.length)];
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** Standard normal sample (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return z;
    }
    const u1 = 1 - this.next(); // in (0, 1]: log(0) is never taken
    const u2 = this.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /**
   * An independent generator for a named sub-task. It depends only on this generator's
   * seed and the label, not on how many numbers were drawn, so work split into forks
   * stays reproducible whatever order the forks run in.
   */
  fork(label: string | number): Rng {
    return new Rng(mix32(this.origin ^ hashString(`fork:${label}`)));
  }
}

/** A generator seeded by an integer or a string. */
export function createRng(seed: Seed): Rng {
  return new Rng(seed);
}
