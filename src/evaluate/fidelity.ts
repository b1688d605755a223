/**
 * Fidelity as a distribution distance: each image becomes a small fixed feature vector (the share
 * of pixels nearest each palette colour, the share far from every palette colour, and the edge
 * energy), and two image sets are compared by the Fréchet distance between Gaussian fits of their
 * features — FID's formula over features a 32x32 shapes image can be judged by without a network.
 */
import { PALETTE, type Rgb } from '../domains/shapes/index';
import type { Image } from '../domains/shapes/types';

const COLOURS: Rgb[] = Object.values(PALETTE);
/** A pixel this far (squared RGB distance) from every palette colour counts as "off-palette". */
const OFF_PALETTE = 0.25;

/** Colour histogram over the palette (+ off-palette share) and mean gradient magnitude. */
export function imageFeatures(image: Image): number[] {
  const { width: w, height: h, data } = image;
  const n = w * h;
  const hist = new Array<number>(COLOURS.length + 1).fill(0);
  for (let i = 0; i < n; i++) {
    const r = data[i];
    const g = data[n + i];
    const b = data[2 * n + i];
    let best = 0;
    let bestD = Infinity;
    COLOURS.forEach((c, k) => {
      const d = (r - c[0]) ** 2 + (g - c[1]) ** 2 + (b - c[2]) ** 2;
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    });
    hist[bestD > OFF_PALETTE ? COLOURS.length : best] += 1 / n;
  }
  let edge = 0;
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < h - 1; y++)
      for (let x = 0; x < w - 1; x++) {
        const i = c * n + y * w + x;
        edge += Math.abs(data[i + 1] - data[i]) + Math.abs(data[i + w] - data[i]);
      }
  return [...hist, edge / (3 * (w - 1) * (h - 1))];
}

/** Fréchet distance between Gaussian fits: |μa − μb|² + tr(Σa + Σb − 2 (Σa Σb)^½). */
export function frechetDistance(a: number[][], b: number[][]): number {
  if (a.length < 2 || b.length < 2)
    throw new Error('The Fréchet distance needs at least two feature vectors per set.');
  const [ma, ca] = meanCov(a);
  const [mb, cb] = meanCov(b);
  let d = 0;
  for (let i = 0; i < ma.length; i++) d += (ma[i] - mb[i]) ** 2;
  // tr((Σa Σb)^½) = Σ sqrt(eig(Σa^½ Σb Σa^½)), a symmetric PSD matrix.
  const sa = symSqrt(ca);
  const inner = matmul(matmul(sa, cb), sa);
  const traceSqrt = symEig(inner).reduce((s, v) => s + Math.sqrt(Math.max(0, v)), 0);
  for (let i = 0; i < ma.length; i++) d += ca[i][i] + cb[i][i];
  return Math.max(0, d - 2 * traceSqrt);
}

function meanCov(x: number[][]): [number[], number[][]] {
  const n = x.length;
  const k = x[0].length;
  const mean = new Array<number>(k).fill(0);
  for (const row of x) row.forEach((v, i) => (mean[i] += v / n));
  const cov = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (const row of x)
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++) cov[i][j] += ((row[i] - mean[i]) * (row[j] - mean[j])) / (n - 1);
  return [mean, cov];
}

function matmul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

/** Square root of a symmetric PSD matrix through its eigenvectors. */
function symSqrt(m: number[][]): number[][] {
  const { values, vectors } = jacobi(m);
  const k = m.length;
  const out = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let e = 0; e < k; e++) {
    const s = Math.sqrt(Math.max(0, values[e]));
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) out[i][j] += s * vectors[i][e] * vectors[j][e];
  }
  return out;
}

function symEig(m: number[][]): number[] {
  // Symmetrise first: rounding makes Σa^½ Σb Σa^½ slightly asymmetric.
  const s = m.map((row, i) => row.map((v, j) => (v + m[j][i]) / 2));
  return jacobi(s).values;
}

/** Cyclic Jacobi eigenvalue iteration for a small symmetric matrix. */
function jacobi(input: number[][]): { values: number[]; vectors: number[][] } {
  const k = input.length;
  const a = input.map((r) => [...r]);
  const v: number[][] = Array.from({ length: k }, (_, i) =>
    Array.from({ length: k }, (_, j) => (i === j ? 1 : 0)),
  );
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < k; p++) for (let q = p + 1; q < k; q++) off += a[p][q] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < k; p++)
      for (let q = p + 1; q < k; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < k; r++) {
          const arp = a[r][p];
          const arq = a[r][q];
          a[r][p] = c * arp - s * arq;
          a[r][q] = s * arp + c * arq;
        }
        for (let r = 0; r < k; r++) {
          const apr = a[p][r];
          const aqr = a[q][r];
          a[p][r] = c * apr - s * aqr;
          a[q][r] = s * apr + c * aqr;
        }
        for (let r = 0; r < k; r++) {
          const vrp = v[r][p];
          const vrq = v[r][q];
          v[r][p] = c * vrp - s * vrq;
          v[r][q] = s * vrp + c * vrq;
        }
      }
  }
  return { values: a.map((row, i) => row[i]), vectors: v };
}
