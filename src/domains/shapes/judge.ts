/**
 * The programmatic judge: plays the human rater for the shapes domain (simulated labels and
 * evaluation). Deterministic, and fast enough to score thousands of 32×32 images a second.
 *
 * Method. The background is the palette colour most of the border agrees on. A pixel is
 * foreground when it is far from the measured background colour; objects are 4-connected
 * foreground components above a minimum area. An object's colour is the majority palette
 * colour of its purest pixels (those farthest from the background), so the blended rims a
 * blur leaves never vote. Each pixel is then unmixed as α·colour + (1−α)·background: the
 * α-weighted moments give the shape (an upright triangle's vertical profile is skewed, a
 * square's fourth moments are anisotropic, a disc's are not), and blur keeps those moments
 * where a bounding-box test would see a small triangle's blurred apex vanish. The α > ½
 * mask gives the area and, against the renderer's own template, how clean the shape is.
 */
import { shapePixels, type Box } from './geometry';
import { shapeFromMoments, shapeMoments, type ShapeMoments } from './moments';
import { PALETTE, distance2, nearestColor, type Rgb } from './palette';
import {
  BACKGROUND_COLORS,
  type ColorName,
  type FoundObject,
  type Image,
  type Judgement,
  MALFORMED_CHECKS,
  type MalformedCheck,
  type Shape,
  type ShapePrompt,
} from './types';

/** Foreground threshold: Euclidean distance from the background colour. Half the closest palette pair (1.0), four noise σ's (0.1 per channel). */
const FOREGROUND_DISTANCE = 0.45;
/** Components smaller than this many pixels (at 32×32; scaled by area) are specks, not objects. */
const MIN_OBJECT_AREA_32 = 8;
/** Share of an object's pixels, the farthest from the background, that vote on its colour. */
const PURE_SHARE = 0.3;
/** wellFormed: share of border pixels that must be background. */
const MIN_BORDER_AGREEMENT = 0.85;
/** wellFormed: each object must overlap its best template at least this well (intersection over union). */
const MIN_SHAPE_FIT = 0.45;
/** wellFormed: mean squared unmixing residual per object pixel (noise σ = 0.1 gives at most 0.03, σ = 0.2 about 0.1; a two-coloured object over 1). */
const MAX_COLOR_RESIDUAL = 0.12;
/** wellFormed: foreground pixels in blobs too small to be objects, as a share of the image. */
const MAX_DEBRIS = 0.02;
/** Foreground blobs below this many pixels are grain, not debris: noise alone makes them. */
const GRAIN_AREA = 3;
/** wellFormed: how many objects a valid image holds. */
const MIN_OBJECTS = 1;
const MAX_OBJECTS = 4;

/** What the judge sees in an image, independent of any prompt. */
export interface ImageAnalysis {
  background: ColorName;
  objects: (FoundObject & { box: Box; fit: number; residual: number; moments: ShapeMoments })[];
  wellFormed: boolean;
  /** The checks it fails (empty when well formed). */
  malformed: MalformedCheck[];
}

interface Pixels {
  w: number;
  h: number;
  r: Float32Array;
  g: Float32Array;
  b: Float32Array;
}

function pixelsOf(image: Image): Pixels {
  const { width: w, height: h, data } = image;
  const n = w * h;
  if (data.length !== 3 * n) {
    throw new Error(
      `Image data has ${data.length} values but a 3×${h}×${w} image needs ${3 * n}: pass CHW RGB data.`,
    );
  }
  return { w, h, r: data.subarray(0, n), g: data.subarray(n, 2 * n), b: data.subarray(2 * n, 3 * n) };
}

function borderIndices(w: number, h: number): number[] {
  const out: number[] = [];
  for (let x = 0; x < w; x++) out.push(x, (h - 1) * w + x);
  for (let y = 1; y < h - 1; y++) out.push(y * w, y * w + w - 1);
  return out;
}

/** The border's majority palette colour, how much of the border agrees, and the agreeing pixels' mean colour. */
function findBackground(px: Pixels): { name: ColorName; agreement: number; mean: Rgb } {
  const border = borderIndices(px.w, px.h);
  const classes = border.map((i) => nearestColor(px.r[i], px.g[i], px.b[i]));
  const votes = new Map<ColorName, number>();
  for (const c of classes) votes.set(c, (votes.get(c) ?? 0) + 1);
  let name: ColorName = classes[0];
  for (const c of BACKGROUND_COLORS) if ((votes.get(c) ?? 0) > (votes.get(name) ?? 0)) name = c;
  const sum = [0, 0, 0];
  let n = 0;
  border.forEach((i, k) => {
    if (classes[k] !== name) return;
    sum[0] += px.r[i];
    sum[1] += px.g[i];
    sum[2] += px.b[i];
    n++;
  });
  return { name, agreement: n / border.length, mean: [sum[0] / n, sum[1] / n, sum[2] / n] };
}

/** 4-connected components of the foreground mask, as lists of pixel indices. */
function components(mask: Uint8Array, w: number, h: number): number[][] {
  const seen = new Uint8Array(mask.length);
  const out: number[][] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || seen[start]) continue;
    const comp: number[] = [start];
    seen[start] = 1;
    for (let k = 0; k < comp.length; k++) {
      const i = comp[k];
      const x = i % w;
      const y = (i - x) / w;
      const neighbours = [
        x > 0 ? i - 1 : -1,
        x < w - 1 ? i + 1 : -1,
        y > 0 ? i - w : -1,
        y < h - 1 ? i + w : -1,
      ];
      for (const j of neighbours) {
        if (j >= 0 && mask[j] && !seen[j]) {
          seen[j] = 1;
          comp.push(j);
        }
      }
    }
    out.push(comp);
  }
  return out;
}

/** Blend weight of `color` over the background that best explains pixel i, unclamped (zero-mean under noise). */
function unmixRaw(px: Pixels, i: number, bg: Rgb, color: Rgb): number {
  const dr = color[0] - bg[0];
  const dg = color[1] - bg[1];
  const db = color[2] - bg[2];
  return (
    ((px.r[i] - bg[0]) * dr + (px.g[i] - bg[1]) * dg + (px.b[i] - bg[2]) * db) / (dr * dr + dg * dg + db * db)
  );
}

/** Blend weight of `colour` over the background that best explains pixel i, clamped to [0, 1], and the squared residual. */
function unmix(px: Pixels, i: number, bg: Rgb, color: Rgb): { alpha: number; residual: number } {
  const dr = color[0] - bg[0];
  const dg = color[1] - bg[1];
  const db = color[2] - bg[2];
  const pr = px.r[i] - bg[0];
  const pg = px.g[i] - bg[1];
  const pb = px.b[i] - bg[2];
  const alpha = Math.min(1, Math.max(0, (pr * dr + pg * dg + pb * db) / (dr * dr + dg * dg + db * db)));
  const er = pr - alpha * dr;
  const eg = pg - alpha * dg;
  const eb = pb - alpha * db;
  return { alpha, residual: er * er + eg * eg + eb * eb };
}

/**
 * The object's colour: the majority palette class among its purest pixels, those farthest
 * from the background. Blur rims are blends nearer the background, so they never vote; and
 * unlike a best-blend fit this is not fooled by colours on one line (red, orange, yellow:
 * orange is half red, half yellow).
 */
function purestColor(px: Pixels, comp: number[], bg: Rgb, candidates: readonly ColorName[]): ColorName {
  const byPurity = comp
    .map((i) => ({ i, d: distance2(px.r[i], px.g[i], px.b[i], bg) }))
    .sort((a, b) => b.d - a.d || a.i - b.i);
  const votes = new Map<ColorName, number>();
  for (const { i } of byPurity.slice(0, Math.max(3, Math.ceil(comp.length * PURE_SHARE)))) {
    let best = candidates[0];
    let bestD = Infinity;
    for (const c of candidates) {
      const d = distance2(px.r[i], px.g[i], px.b[i], PALETTE[c]);
      if (d < bestD) {
        bestD = d;
        best = c;
      }
    }
    votes.set(best, (votes.get(best) ?? 0) + 1);
  }
  let color = candidates[0];
  for (const c of candidates) if ((votes.get(c) ?? 0) > (votes.get(color) ?? 0)) color = c;
  return color;
}

/**
 * The component plus its 8-neighbours, less other objects' pixels: where a blurred object's
 * rim can be.
 */
function grow(comp: number[], labels: Int32Array, w: number, h: number): number[] {
  const own = labels[comp[0]];
  const set = new Set(comp);
  for (const i of comp) {
    const x = i % w;
    const y = (i - x) / w;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const xx = x + dx;
        const yy = y + dy;
        if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
        const j = yy * w + xx;
        if (labels[j] === 0 || labels[j] === own) set.add(j);
      }
    }
  }
  return [...set];
}

function boundingBox(indices: number[], w: number): Box {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const i of indices) {
    const x = i % w;
    const y = (i - x) / w;
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  return { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

/** How well `shape`, drawn in the bounding box of the α > ½ mask, overlaps that mask (intersection over union). */
function templateFit(shape: Shape, mask: number[], w: number, h: number): { fit: number; box: Box } {
  const box = boundingBox(mask, w);
  const inMask = new Set(mask);
  const template = shapePixels(shape, box, w, h);
  let both = 0;
  for (const i of template) if (inMask.has(i)) both++;
  return { fit: both / (mask.length + template.length - both), box };
}

/** Finds the background and objects of an image and whether it looks like a valid shapes image. */
export function analyzeImage(image: Image): ImageAnalysis {
  const px = pixelsOf(image);
  const { w, h } = px;
  const background = findBackground(px);
  const bg = background.mean;
  const mask = new Uint8Array(w * h);
  const threshold2 = FOREGROUND_DISTANCE * FOREGROUND_DISTANCE;
  for (let i = 0; i < mask.length; i++)
    mask[i] = distance2(px.r[i], px.g[i], px.b[i], bg) > threshold2 ? 1 : 0;
  const minArea = Math.max(3, Math.round((MIN_OBJECT_AREA_32 * w * h) / 1024));
  const candidates = BACKGROUND_COLORS.filter((c) => c !== background.name);
  let debris = 0;
  const objects: ImageAnalysis['objects'] = [];
  const comps = components(mask, w, h);
  // Which component each pixel belongs to (1-based; 0 = background), so one object's rim never takes in another's pixels.
  const labels = new Int32Array(w * h);
  comps.forEach((comp, k) => comp.forEach((i) => (labels[i] = k + 1)));
  for (const comp of comps) {
    if (comp.length < minArea) {
      if (comp.length >= GRAIN_AREA) debris += comp.length;
      continue;
    }
    const color = purestColor(px, comp, bg, candidates);
    let residual = 0;
    for (const i of comp) residual += unmix(px, i, bg, PALETTE[color]).residual;
    const region = grow(comp, labels, w, h);
    const objectMask = region.filter((i) => unmix(px, i, bg, PALETTE[color]).alpha > 0.5);
    if (objectMask.length < minArea) {
      debris += comp.length;
      continue;
    }
    // α unclamped so that noise averages out instead of biasing the moments; bounded against outliers.
    const alpha = region.map((i) => Math.min(1.5, Math.max(-0.5, unmixRaw(px, i, bg, PALETTE[color]))));
    const moments = shapeMoments(region, alpha, w);
    const shape = shapeFromMoments(moments);
    const { fit, box } = templateFit(shape, objectMask, w, h);
    objects.push({
      color,
      shape,
      area: objectMask.length,
      box,
      fit,
      residual: residual / comp.length,
      moments,
    });
  }
  const failed: Record<MalformedCheck, boolean> = {
    border: background.agreement < MIN_BORDER_AGREEMENT,
    no_object: objects.length < MIN_OBJECTS,
    too_many_objects: objects.length > MAX_OBJECTS,
    debris: debris > MAX_DEBRIS * w * h,
    shape_fit: objects.some((o) => o.fit < MIN_SHAPE_FIT),
    colour_mix: objects.some((o) => o.residual > MAX_COLOR_RESIDUAL),
  };
  const malformed = MALFORMED_CHECKS.filter((c) => failed[c]);
  return { background: background.name, objects, wellFormed: malformed.length === 0, malformed };
}

/** Checks an analysis against a prompt: each attribute the prompt constrains, and all together. */
export function verdict(analysis: ImageAnalysis, prompt: ShapePrompt): Judgement {
  const { objects } = analysis;
  const any = objects.length > 0;
  const background = prompt.background === undefined ? null : analysis.background === prompt.background;
  const count = objects.length === prompt.count;
  const color = prompt.color === undefined ? null : any && objects.every((o) => o.color === prompt.color);
  const shape = any && objects.every((o) => o.shape === prompt.shape);
  const aligned = background !== false && count && color !== false && shape;
  return {
    background,
    count,
    color,
    shape,
    aligned,
    wellFormed: analysis.wellFormed,
    malformed: analysis.malformed,
    found: {
      background: analysis.background,
      objects: objects.map(({ color: c, shape: s, area }) => ({ color: c, shape: s, area })),
    },
  };
}

/** Judges one image against one prompt, as a careful human rater of the shapes domain would. */
export function judge(image: Image, prompt: ShapePrompt): Judgement {
  return verdict(analyzeImage(image), prompt);
}
