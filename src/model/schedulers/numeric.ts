// NumPy's rounding and spacing rules, reproduced so timesteps match diffusers exactly.

/** Rounds half to even, as `numpy.round` does (937.5 -> 938, 812.5 -> 812). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `numpy.linspace(start, stop, num)`: evenly spaced, both ends included. */
export function linspace(start: number, stop: number, num: number): number[] {
  if (num === 1) return [start];
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => start + i * step);
  out[num - 1] = stop;
  return out;
}

/** `numpy.arange(start, stop, step)` for a real step of either sign. */
export function arange(start: number, stop: number, step: number): number[] {
  const n = Math.max(0, Math.ceil((stop - start) / step));
  return Array.from({ length: n }, (_, i) => start + i * step);
}

/** `numpy.interp(x, [0, 1, ..., fp.length - 1], fp)`: piecewise-linear lookup at a fractional index. */
export function interpIndex(x: number, fp: ArrayLike<number>): number {
  if (x <= 0) return fp[0];
  const last = fp.length - 1;
  if (x >= last) return fp[last];
  const i = Math.floor(x);
  const f = x - i;
  return fp[i] + f * (fp[i + 1] - fp[i]);
}
