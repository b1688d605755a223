/**
 * The domain's colours as RGB triples in the model's pixel space [-1, 1]. Chosen saturated
 * and far apart: the closest pairs (orange–red, orange–yellow) are 1.0 apart in Euclidean
 * distance, ten times the noise the judge must tolerate (σ = 0.1 per channel).
 */
import { BACKGROUND_COLORS, type ColorName } from './types';

const RGB255: Record<ColorName, readonly [number, number, number]> = {
  red: [255, 0, 0],
  green: [0, 200, 0],
  blue: [0, 0, 255],
  yellow: [255, 255, 0],
  purple: [150, 0, 200],
  orange: [255, 128, 0],
  white: [255, 255, 255],
  black: [0, 0, 0],
  gray: [128, 128, 128],
};

export type Rgb = readonly [number, number, number];

/** Colour name → RGB in [-1, 1]. */
export const PALETTE: Record<ColorName, Rgb> = Object.fromEntries(
  BACKGROUND_COLORS.map((name) => [name, RGB255[name].map((v) => v / 127.5 - 1) as unknown as Rgb]),
) as Record<ColorName, Rgb>;

/** Squared Euclidean distance between an (r, g, b) pixel and a palette colour. */
export function distance2(r: number, g: number, b: number, c: Rgb): number {
  const dr = r - c[0];
  const dg = g - c[1];
  const db = b - c[2];
  return dr * dr + dg * dg + db * db;
}

/** The palette colour nearest to an (r, g, b) pixel. */
export function nearestColor(r: number, g: number, b: number): ColorName {
  let best: ColorName = BACKGROUND_COLORS[0];
  let bestD = Infinity;
  for (const name of BACKGROUND_COLORS) {
    const d = distance2(r, g, b, PALETTE[name]);
    if (d < bestD) {
      bestD = d;
      best = name;
    }
  }
  return best;
}
