/**
 * Renders correct images for prompts: the pretraining data of the shapes domain. A plain
 * TypeScript raster (no canvas), crisp pixel-centre sampling, every choice drawn from a
 * seeded generator so an image is a pure function of (prompt, size, seed).
 */
import { createRng, type Rng, type Seed } from '../../util/rng';
import { shapePixels, type Box } from './geometry';
import { PALETTE } from './palette';
import { NEUTRAL_BACKGROUND, OBJECT_COLORS, type ColorName, type Image, type ShapePrompt } from './types';

export interface RenderOptions {
  /** Side of the square image in pixels; default 32. Object sizes scale with it. */
  size?: number;
  /** Seed for positions, sizes and free attributes. */
  seed: Seed;
}

/** Object sides in pixels at 32×32, by how many objects share the image (more objects, smaller). */
const SIDE_RANGE_32: Record<number, [number, number]> = { 1: [8, 12], 2: [8, 11], 3: [7, 10], 4: [7, 9] };
/** Empty pixels kept between objects (so a 3×3 blur never joins two) and from the image edge (so the border stays background). */
const GAP_32 = 3;
const MARGIN_32 = 2;

export const MIN_SIZE = 24;
export const MAX_SIZE = 256;

/** A blank image filled with one palette colour. */
export function solidImage(size: number, color: ColorName): Image {
  const data = new Float32Array(3 * size * size);
  const rgb = PALETTE[color];
  for (let c = 0; c < 3; c++) data.fill(rgb[c], c * size * size, (c + 1) * size * size);
  return { width: size, height: size, data };
}

/** Chooses non-overlapping boxes for `count` objects, or null if this draw did not fit. */
function placeBoxes(rng: Rng, count: number, size: number, shrink: number): Box[] | null {
  const scale = size / 32;
  const [lo, hi] = SIDE_RANGE_32[count];
  const gap = Math.round(GAP_32 * scale);
  const margin = Math.round(MARGIN_32 * scale);
  const boxes: Box[] = [];
  for (let i = 0; i < count; i++) {
    const drawn = Math.round(rng.uniform(lo, hi + 1) * scale - 0.5);
    const side = Math.max(3, Math.max(Math.round(lo * scale), drawn) - shrink);
    let placed = false;
    for (let attempt = 0; attempt < 100 && !placed; attempt++) {
      const x = margin + rng.int(size - 2 * margin - side + 1);
      const y = margin + rng.int(size - 2 * margin - side + 1);
      const clear = boxes.every(
        (b) => x >= b.x + b.w + gap || b.x >= x + side + gap || y >= b.y + b.h + gap || b.y >= y + side + gap,
      );
      if (clear) {
        boxes.push({ x, y, w: side, h: side });
        placed = true;
      }
    }
    if (!placed) return null;
  }
  return boxes;
}

/** The background and object colours an image of `prompt` gets (free attributes drawn from `rng`). */
function chooseColors(prompt: ShapePrompt, rng: Rng): { background: ColorName; object: ColorName } {
  const background = prompt.background ?? NEUTRAL_BACKGROUND;
  const object = prompt.color ?? rng.pick(OBJECT_COLORS.filter((c) => c !== background));
  return { background, object };
}

/** Draws a correct image of `prompt`: its background, `count` objects of its shape and colour, apart. */
export function renderPrompt(prompt: ShapePrompt, options: RenderOptions): Image {
  const size = options.size ?? 32;
  if (!Number.isInteger(size) || size < MIN_SIZE || size > MAX_SIZE) {
    throw new Error(
      `Image size ${size} is not supported: use an integer from ${MIN_SIZE} to ${MAX_SIZE} (32 or 64).`,
    );
  }
  if (!SIDE_RANGE_32[prompt.count]) {
    throw new Error(
      `Prompt "${prompt.text}" asks for ${prompt.count} objects: the shapes domain draws 1 to 4.`,
    );
  }
  if (prompt.color !== undefined && prompt.color === prompt.background) {
    throw new Error(
      `Prompt "${prompt.text}" has the object colour equal to the background: choose two different colours.`,
    );
  }
  const rng = createRng(options.seed);
  const colors = chooseColors(prompt, rng.fork('colors'));
  const layout = rng.fork('layout');
  let boxes: Box[] | null = null;
  // Shrink the objects a pixel at a time on the rare draws where they do not fit.
  for (let shrink = 0; boxes === null; shrink++) {
    for (let attempt = 0; attempt < 20 && boxes === null; attempt++)
      boxes = placeBoxes(layout, prompt.count, size, shrink);
  }
  const image = solidImage(size, colors.background);
  const rgb = PALETTE[colors.object];
  const plane = size * size;
  for (const box of boxes) {
    for (const i of shapePixels(prompt.shape, box, size, size)) {
      image.data[i] = rgb[0];
      image.data[plane + i] = rgb[1];
      image.data[2 * plane + i] = rgb[2];
    }
  }
  return image;
}
