/**
 * Shape from moments. An object is described by its blend weights α (how much of the
 * object colour each pixel holds). A box blur, or any symmetric blur, keeps the mass and
 * the third moments of α and only adds a little variance, so these features survive the
 * blur that rounds a small triangle's apex into a trapezoid and defeats bounding-box tests.
 */
import type { Shape } from './types';

/** Thresholds halfway between the classes measured on rendered images, clean, noisy (σ = 0.1) and blurred. */
const TRIANGLE_SKEW = -0.16;
const SQUARE_ANISOTROPY = -0.24;

export interface ShapeMoments {
  /** Skewness of the vertical profile (y grows downwards): about −0.6 for an upright triangle, 0 for circles and squares. */
  skewY: number;
  /** Fourth-order anisotropy (κ40 + κ04 − 6κ22) / (μ20 + μ02)²: −0.6 for an axis-aligned square, 0 for a disc. */
  anisotropy: number;
}

/** Moments of the weights `alpha` at the row-major `pixels` of a grid `width` wide. */
export function shapeMoments(pixels: number[], alpha: number[], width: number): ShapeMoments {
  const w = width;
  let m = 0;
  let cx = 0;
  let cy = 0;
  pixels.forEach((i, k) => {
    const x = i % w;
    m += alpha[k];
    cx += alpha[k] * x;
    cy += alpha[k] * ((i - x) / w);
  });
  if (!(m > 1e-6)) return { skewY: 0, anisotropy: 0 }; // no mass: nothing to measure
  cx /= m;
  cy /= m;
  let m20 = 0;
  let m02 = 0;
  let m11 = 0;
  let m03 = 0;
  let m40 = 0;
  let m04 = 0;
  let m22 = 0;
  pixels.forEach((i, k) => {
    const a = alpha[k];
    const x = (i % w) - cx;
    const y = (i - (i % w)) / w - cy;
    const x2 = x * x;
    const y2 = y * y;
    m20 += a * x2;
    m02 += a * y2;
    m11 += a * x * y;
    m03 += a * y2 * y;
    m40 += a * x2 * x2;
    m04 += a * y2 * y2;
    m22 += a * x2 * y2;
  });
  [m20, m02, m11, m03, m40, m04, m22] = [m20, m02, m11, m03, m40, m04, m22].map((v) => v / m);
  const kappa = m40 - 3 * m20 * m20 + (m04 - 3 * m02 * m02) - 6 * (m22 - m20 * m02 - 2 * m11 * m11);
  return {
    skewY: m03 / Math.pow(Math.max(m02, 1e-9), 1.5),
    anisotropy: kappa / Math.max((m20 + m02) ** 2, 1e-9),
  };
}

/** Triangle when the vertical profile is clearly skewed; else square when clearly anisotropic; else circle. */
export function shapeFromMoments(f: ShapeMoments): Shape {
  if (f.skewY < TRIANGLE_SKEW) return 'triangle';
  return f.anisotropy < SQUARE_ANISOTROPY ? 'square' : 'circle';
}
