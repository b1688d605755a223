/**
 * CLIP image preprocessing as transformers' PIL-backend CLIPImageProcessor does it
 * (`CLIPImageProcessorPil` in transformers 5.x, the "slow" CLIPImageProcessor of 4.x), bit for bit
 * on the pixels: the image as uint8 (a PNG of it), resized with Pillow's resampling so the
 * shortest edge is `size.shortest_edge` (or to `size.height` x `size.width`), centre-cropped to
 * `crop_size` (zero-padding what falls outside), rescaled by `rescale_factor` and normalised with
 * `image_mean` / `image_std`, each step behind its `do_*` flag.
 *
 * The resampler follows Pillow 13's src/libImaging/Resample.c: a separable convolution with the
 * filter's support widened by the downscale factor (antialiasing), weights normalised to sum to
 * one, then turned into 22-bit fixed point; each pass rounds and clips to uint8. The horizontal
 * pass runs first unless the height shrinks by more than twice as many pixels as the width (then
 * the vertical one does: new in Pillow 13; 12 and older always went horizontal first, which can
 * change a few values by rounding). NEAREST follows Geometry.c's ImagingScaleAffine. Checked
 * against Pillow 13.0 and transformers 5.22 by test/reward/clip-preprocess.test.ts (goldens from
 * scripts/reference/make_clip_fixture.py).
 */
import type { Image } from '../domains/shapes/types';
import { RewardInputError } from './errors';

/** Pillow's resampling filters, by the numbers preprocessor_config.json's `resample` uses. */
export const RESAMPLE = {
  nearest: 0,
  lanczos: 1,
  bilinear: 2,
  bicubic: 3,
  box: 4,
  hamming: 5,
  mks2013: 6,
  mks2021: 7,
} as const;

const SUPPORTED =
  "use one of Pillow's 0 (nearest), 1 (lanczos), 2 (bilinear), 3 (bicubic), 4 (box), 5 (hamming), 6 (mks2013) or 7 (mks2021)";

/** CLIPImageProcessor's settings, parsed from preprocessor_config.json. */
export interface ClipImageConfig {
  doResize: boolean;
  /** `shortestEdge` (optionally with `longestEdge`), or `height` and `width`. */
  size: { shortestEdge?: number; longestEdge?: number; height?: number; width?: number };
  resample: number;
  doCenterCrop: boolean;
  cropSize: { height: number; width: number };
  doRescale: boolean;
  rescaleFactor: number;
  doNormalize: boolean;
  mean: number[];
  std: number[];
  /** Our images are RGB already: honoured trivially. */
  doConvertRgb: boolean;
}

/** OpenAI CLIP's normalisation (transformers' OPENAI_CLIP_MEAN / OPENAI_CLIP_STD). */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

/**
 * The processor a preprocessor_config.json describes, with CLIPImageProcessor's defaults for what
 * it leaves out (shortest edge 224, crop 224x224, bicubic, 1/255, CLIP's mean and std). As in
 * transformers, an integer `size` is the shortest edge, an integer `crop_size` a square, and a
 * [height, width] pair either. `where` names the file in error sentences.
 */
export function clipImageConfig(
  cfg: Record<string, unknown>,
  where = 'preprocessor_config.json',
): ClipImageConfig {
  const flag = (key: string, fallback: boolean): boolean => {
    const v = cfg[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean')
      throw new RewardInputError(`${where} has ${key} ${JSON.stringify(v)}; it must be true or false.`);
    return v;
  };
  const positive = (key: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new RewardInputError(
        `${where} has ${key} ${JSON.stringify(v)}; sizes must be positive integers.`,
      );
    }
    return v;
  };
  const sizeDict = (key: string, v: unknown, intIsSquare: boolean): Record<string, number> => {
    if (typeof v === 'number') {
      return intIsSquare
        ? { height: positive(key, v), width: positive(key, v) }
        : { shortest_edge: positive(key, v) };
    }
    if (Array.isArray(v) && v.length === 2)
      return { height: positive(key, v[0]), width: positive(key, v[1]) };
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, positive(`${key}.${k}`, x)]));
    }
    throw new RewardInputError(
      `${where} has ${key} ${JSON.stringify(v)}; expected a number, [height, width] or an object.`,
    );
  };
  const triple = (key: string, fallback: number[]): number[] => {
    const v = cfg[key] ?? fallback;
    const list = typeof v === 'number' ? [v, v, v] : v;
    if (
      !Array.isArray(list) ||
      list.length !== 3 ||
      !list.every((x) => typeof x === 'number' && Number.isFinite(x))
    ) {
      throw new RewardInputError(
        `${where} has ${key} ${JSON.stringify(v)}; expected three numbers (R, G, B).`,
      );
    }
    return list as number[];
  };

  const sizeIn = sizeDict('size', cfg.size ?? { shortest_edge: 224 }, false);
  let size: ClipImageConfig['size'];
  if (sizeIn.shortest_edge !== undefined) {
    size = { shortestEdge: sizeIn.shortest_edge, longestEdge: sizeIn.longest_edge };
  } else if (sizeIn.height !== undefined && sizeIn.width !== undefined) {
    size = { height: sizeIn.height, width: sizeIn.width };
  } else {
    throw new RewardInputError(
      `${where} has size ${JSON.stringify(cfg.size)}; the CLIP preprocessing supports {shortest_edge} (optionally with longest_edge) or {height, width}.`,
    );
  }
  const cropIn = sizeDict('crop_size', cfg.crop_size ?? { height: 224, width: 224 }, true);
  if (cropIn.height === undefined || cropIn.width === undefined) {
    throw new RewardInputError(
      `${where} has crop_size ${JSON.stringify(cfg.crop_size)}; it needs height and width.`,
    );
  }
  const resample = cfg.resample ?? RESAMPLE.bicubic;
  if (typeof resample !== 'number' || !Object.values(RESAMPLE).includes(resample as never)) {
    throw new RewardInputError(
      `${where} asks for resample ${JSON.stringify(resample)}, which the CLIP preprocessing does not implement: ${SUPPORTED}.`,
    );
  }
  const rescaleFactor = cfg.rescale_factor ?? 1 / 255;
  if (typeof rescaleFactor !== 'number' || !Number.isFinite(rescaleFactor)) {
    throw new RewardInputError(
      `${where} has rescale_factor ${JSON.stringify(rescaleFactor)}; it must be a number.`,
    );
  }
  return {
    doResize: flag('do_resize', true),
    size,
    resample,
    doCenterCrop: flag('do_center_crop', true),
    cropSize: { height: cropIn.height, width: cropIn.width },
    doRescale: flag('do_rescale', true),
    rescaleFactor,
    doNormalize: flag('do_normalize', true),
    mean: triple('image_mean', CLIP_MEAN),
    std: triple('image_std', CLIP_STD),
    doConvertRgb: flag('do_convert_rgb', true),
  };
}

/** An image as channel-first (CHW) uint8 planes. */
export interface ByteImage {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/**
 * CHW floats in [-1, 1] -> CHW bytes, rounded as a PNG of the image is
 * (src/model/images.ts toRgbBytes: round((v + 1) * 127.5), clipped to 0..255, NaN to 0).
 */
export function quantise(im: Image): ByteImage {
  const out = new Uint8Array(im.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = Math.round((im.data[i] + 1) * 127.5);
    out[i] = v > 255 ? 255 : v > 0 ? v : 0;
  }
  return { width: im.width, height: im.height, channels: im.data.length / (im.width * im.height), data: out };
}

/** [height, width] after CLIPImageProcessor's resize of a height x width image. */
export function resizeOutputSize(
  height: number,
  width: number,
  size: ClipImageConfig['size'],
): [number, number] {
  if (size.shortestEdge !== undefined && size.longestEdge !== undefined) {
    return sizeWithAspectRatio(height, width, size.shortestEdge, size.longestEdge);
  }
  if (size.shortestEdge !== undefined) {
    // transformers' get_resize_output_image_size(default_to_square=False): int() truncates.
    const [short, long] = width <= height ? [width, height] : [height, width];
    const newShort = size.shortestEdge;
    const newLong = Math.trunc((newShort * long) / short);
    return width <= height ? [newLong, newShort] : [newShort, newLong];
  }
  return [size.height!, size.width!];
}

/** transformers' get_size_with_aspect_ratio (shortest_edge with longest_edge). */
function sizeWithAspectRatio(
  height: number,
  width: number,
  shortest: number,
  longest: number,
): [number, number] {
  let size = shortest;
  let raw: number | undefined;
  const minSide = Math.min(height, width);
  const maxSide = Math.max(height, width);
  if ((maxSide / minSide) * size > longest) {
    raw = (longest * minSide) / maxSide;
    size = pyRound(raw);
  }
  if ((height <= width && height === size) || (width <= height && width === size)) return [height, width];
  if (width < height) return [Math.trunc(((raw ?? size) * height) / width), size];
  return [size, Math.trunc(((raw ?? size) * width) / height)];
}

/** Python's round(): halves to even. */
function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

interface Filter {
  support: number;
  fn: (x: number) => number;
}

const F32_054 = Math.fround(0.54);
const F32_046 = Math.fround(0.46);
const sinc = (x: number) => (x === 0 ? 1 : Math.sin(x * Math.PI) / (x * Math.PI));

/** Resample.c's filters (bicubic with a = -0.5; Magic Kernel Sharp 2013 and 2021). */
const FILTERS: Record<number, Filter> = {
  [RESAMPLE.box]: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  [RESAMPLE.bilinear]: {
    support: 1,
    fn: (x) => {
      x = Math.abs(x);
      return x < 1 ? 1 - x : 0;
    },
  },
  [RESAMPLE.hamming]: {
    support: 1,
    fn: (x) => {
      x = Math.abs(x);
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      return (Math.sin(x) / x) * (F32_054 + F32_046 * Math.cos(x));
    },
  },
  [RESAMPLE.bicubic]: {
    support: 2,
    fn: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  [RESAMPLE.lanczos]: { support: 3, fn: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
  [RESAMPLE.mks2013]: {
    support: 2.5,
    fn: (x) => {
      x = Math.abs(x);
      if (x < 0.5) return 17 / 16 - (7 / 4) * x * x;
      if (x < 1.5) return (1 - x) * (7 / 4 - x);
      if (x < 2.5) return (-1 / 8) * (x - 5 / 2) * (x - 5 / 2);
      return 0;
    },
  },
  [RESAMPLE.mks2021]: {
    support: 4.5,
    fn: (x) => {
      x = Math.abs(x);
      if (x < 0.5) return 577 / 576 - (239 / 144) * x * x;
      if (x < 1.5) return (35 / 36) * (x - 1) * (x - 239 / 140);
      if (x < 2.5) return (1 / 6) * (x - 2) * (65 / 24 - x);
      if (x < 3.5) return (1 / 36) * (x - 3) * (x - 15 / 4);
      if (x < 4.5) return (-1 / 288) * (x - 9 / 2) * (x - 9 / 2);
      return 0;
    },
  },
};

const PRECISION_BITS = 32 - 8 - 2;

/** Resample.c's precompute_coeffs + normalize_coeffs_8bpc: per output index, first input and fixed-point weights. */
function coefficients(
  inSize: number,
  outSize: number,
  filter: Filter,
): { start: Int32Array; weights: Int32Array[] } {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const inv = 1 / filterscale;
  const start = new Int32Array(outSize);
  const weights: Int32Array[] = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k = new Float64Array(Math.max(xmax, 0));
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      k[x] = filter.fn((x + xmin - center + 0.5) * inv);
      ww += k[x];
    }
    const fixed = new Int32Array(k.length);
    for (let x = 0; x < k.length; x++) {
      const w = ww !== 0 ? k[x] / ww : k[x];
      fixed[x] = Math.trunc(w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS));
    }
    start[xx] = xmin;
    weights.push(fixed);
  }
  return { start, weights };
}

const clip8 = (ss: number): number => {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
};

/** One 8-bit pass along rows (`horizontal`) or columns, as Resample.c's _ImagingResample*_8bpc. */
function pass(src: ByteImage, outSize: number, filter: Filter, horizontal: boolean): ByteImage {
  const { width: W, height: H, channels: C } = src;
  const [oW, oH] = horizontal ? [outSize, H] : [W, outSize];
  const { start, weights } = coefficients(horizontal ? W : H, outSize, filter);
  const out = new Uint8Array(C * oW * oH);
  const half = 1 << (PRECISION_BITS - 1);
  for (let c = 0; c < C; c++) {
    const plane = c * W * H;
    const oPlane = c * oW * oH;
    for (let y = 0; y < oH; y++) {
      for (let x = 0; x < oW; x++) {
        const i = horizontal ? x : y;
        const k = weights[i];
        const s = start[i];
        let ss = half;
        if (horizontal) {
          const row = plane + y * W + s;
          for (let j = 0; j < k.length; j++) ss += src.data[row + j] * k[j];
        } else {
          const col = plane + s * W + x;
          for (let j = 0; j < k.length; j++) ss += src.data[col + j * W] * k[j];
        }
        out[oPlane + y * oW + x] = clip8(ss);
      }
    }
  }
  return { width: oW, height: oH, channels: C, data: out };
}

/** Geometry.c's ImagingScaleAffine: nearest neighbour with positions accumulated in double. */
function nearest(src: ByteImage, oW: number, oH: number): ByteImage {
  const { width: W, height: H, channels: C } = src;
  const table = (inSize: number, outSize: number): Int32Array => {
    const a = inSize / outSize;
    const idx = new Int32Array(outSize);
    let pos = a * 0.5;
    for (let i = 0; i < outSize; i++, pos += a) idx[i] = pos < 0 ? -1 : Math.trunc(pos);
    return idx;
  };
  const xs = table(W, oW);
  const ys = table(H, oH);
  const out = new Uint8Array(C * oW * oH);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < oH; y++) {
      if (ys[y] < 0 || ys[y] >= H) continue;
      for (let x = 0; x < oW; x++) {
        if (xs[x] >= 0 && xs[x] < W) out[(c * oH + y) * oW + x] = src.data[(c * H + ys[y]) * W + xs[x]];
      }
    }
  }
  return { width: oW, height: oH, channels: C, data: out };
}

/** Pillow's Image.resize((width, height), resample) of an 8-bit image (no reducing_gap). */
export function pilResize(src: ByteImage, width: number, height: number, resample: number): ByteImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RewardInputError(
      `Cannot resize an image to ${width}x${height}: sizes must be positive integers.`,
    );
  }
  if (width === src.width && height === src.height) return { ...src, data: src.data.slice() };
  if (resample === RESAMPLE.nearest) return nearest(src, width, height);
  const filter = FILTERS[resample];
  if (!filter) {
    throw new RewardInputError(`Resample ${resample} is not implemented: ${SUPPORTED}.`);
  }
  const shrinkY = src.height - height;
  const horizontalFirst = !(shrinkY > 0 && shrinkY > (src.width - width) * 2);
  let im = src;
  if (horizontalFirst && width !== im.width) im = pass(im, width, filter, true);
  if (height !== im.height) im = pass(im, height, filter, false);
  if (width !== im.width) im = pass(im, width, filter, true);
  return im;
}

/**
 * transformers' center_crop: the height x width window at ((H - height) // 2, (W - width) // 2);
 * where it reaches outside the image (a crop bigger than the image), zeros.
 */
export function centerCrop(src: ByteImage, height: number, width: number): ByteImage {
  const { width: W, height: H, channels: C } = src;
  const top = Math.floor((H - height) / 2);
  const left = Math.floor((W - width) / 2);
  const out = new Uint8Array(C * height * width);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < height; y++) {
      const sy = y + top;
      if (sy < 0 || sy >= H) continue;
      for (let x = 0; x < width; x++) {
        const sx = x + left;
        if (sx >= 0 && sx < W) out[(c * height + y) * width + x] = src.data[(c * H + sy) * W + sx];
      }
    }
  }
  return { width, height, channels: C, data: out };
}

/** pixel_values for one image: CHW float32, with the dims the processor gives it. */
export interface PixelValues {
  width: number;
  height: number;
  data: Float32Array;
}

/**
 * CLIPImageProcessor (PIL backend) on one bytes image: resize, centre crop, rescale (in float64,
 * then float32), normalise (in float32), as transformers does.
 */
export function clipPixelValuesFromBytes(src: ByteImage, cfg: ClipImageConfig): PixelValues {
  let im = src;
  if (cfg.doResize) {
    const [h, w] = resizeOutputSize(im.height, im.width, cfg.size);
    im = pilResize(im, w, h, cfg.resample);
  }
  if (cfg.doCenterCrop) im = centerCrop(im, cfg.cropSize.height, cfg.cropSize.width);
  const plane = im.width * im.height;
  const out = new Float32Array(im.data.length);
  const mean = cfg.mean.map(Math.fround);
  const std = cfg.std.map(Math.fround);
  for (let c = 0; c < im.channels; c++) {
    for (let i = c * plane; i < (c + 1) * plane; i++) {
      let v = cfg.doRescale ? Math.fround(im.data[i] * cfg.rescaleFactor) : im.data[i];
      if (cfg.doNormalize) v = Math.fround(Math.fround(v - mean[c]) / std[c]);
      out[i] = v;
    }
  }
  return { width: im.width, height: im.height, data: out };
}

/** CLIPImageProcessor on one of our images (CHW [-1, 1], quantised to bytes first as a PNG of it is). */
export function clipPixelValues(im: Image, cfg: ClipImageConfig): PixelValues {
  return clipPixelValuesFromBytes(quantise(im), cfg);
}
