/** Image corruptions the judge must tolerate: stand-ins for a diffusion model's messy outputs. */
import type { Image } from '../../src/domains/shapes/types';
import type { Rng } from '../../src/util/rng';

/** Adds N(0, sigma²) to every value and clamps to [-1, 1]. */
export function addNoise(image: Image, sigma: number, rng: Rng): Image {
  const data = image.data.map((v) => Math.min(1, Math.max(-1, v + sigma * rng.normal())));
  return { ...image, data };
}

/** 3×3 box blur per channel, edges replicated. */
export function boxBlur(image: Image): Image {
  const { width: w, height: h } = image;
  const data = new Float32Array(image.data.length);
  for (let c = 0; c < 3; c++) {
    const o = c * w * h;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const yy = Math.min(h - 1, Math.max(0, y + dy));
            const xx = Math.min(w - 1, Math.max(0, x + dx));
            s += image.data[o + yy * w + xx];
          }
        }
        data[o + y * w + x] = s / 9;
      }
    }
  }
  return { ...image, data };
}

/** Pure noise: every value uniform in [-1, 1]. */
export function noiseImage(size: number, rng: Rng): Image {
  const data = new Float32Array(3 * size * size).map(() => rng.uniform(-1, 1));
  return { width: size, height: size, data };
}

/** Shifts each channel of the whole image by one offset drawn from [-amount, amount]: a colour cast. */
export function colorCast(image: Image, amount: number, rng: Rng): Image {
  const plane = image.width * image.height;
  const offsets = [0, 1, 2].map(() => rng.uniform(-amount, amount));
  const data = image.data.map((v, i) => Math.min(1, Math.max(-1, v + offsets[Math.floor(i / plane)])));
  return { ...image, data };
}
