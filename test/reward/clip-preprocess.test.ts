// CLIP image preprocessing against transformers' CLIPImageProcessor (PIL backend) and Pillow, and the
// CLIP backbone against PyTorch, on the goldens of scripts/reference/make_clip_fixture.py
// (test/fixtures/clip-ref: a tiny random CLIPModel exported as transformers.js lays CLIP out).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import type { Image } from '../../src/domains/shapes/types';
import { toRgbBytes } from '../../src/model/images';
import {
  clipImageConfig,
  clipPixelValues,
  pilResize,
  quantise,
  type ByteImage,
} from '../../src/reward/clip-preprocess';
import { RewardInputError } from '../../src/reward/errors';
import { ClipEncoder } from '../../src/reward/encoders';

const DIR = 'test/fixtures/clip-ref';

interface Goldens {
  images: {
    name: string;
    png: string;
    width: number;
    height: number;
    pixel_values: string;
    dims: number[];
    image_embeds: number[];
  }[];
  variants: {
    name: string;
    kwargs: Record<string, unknown>;
    outputs: { image: string; pixel_values: string; dims: number[] }[];
  }[];
  texts: { text: string; input_ids: number[]; text_embeds: number[] }[];
  resize: {
    source: string;
    width: number;
    height: number;
    outputs: string;
    cases: { resample: number; width: number; height: number; offset: number }[];
  };
}
const goldens: Goldens = JSON.parse(readFileSync(join(DIR, 'goldens.json'), 'utf8'));

function readF32(rel: string): Float32Array {
  const buf = readFileSync(join(DIR, rel));
  const out = new Float32Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(4 * i);
  return out;
}

/** HWC bytes -> CHW bytes. */
function planar(hwc: Uint8Array, width: number, height: number): ByteImage {
  const plane = width * height;
  const data = new Uint8Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) data[c * plane + i] = hwc[3 * i + c];
  return { width, height, channels: 3, data };
}

/** A fixture PNG as our Image: bytes b -> b / 127.5 - 1, which quantises back to b exactly. */
async function loadPng(rel: string): Promise<Image> {
  const { data, info } = await sharp(join(DIR, rel)).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  const bytes = planar(new Uint8Array(data.buffer, data.byteOffset, data.length), info.width, info.height);
  return {
    width: info.width,
    height: info.height,
    data: Float32Array.from(bytes.data, (b) => b / 127.5 - 1),
  };
}

const images = new Map<string, Image>();
async function image(name: string): Promise<Image> {
  if (!images.has(name)) images.set(name, await loadPng(`images/${name}.png`));
  return images.get(name)!;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

test("quantising to bytes rounds as a PNG of the image does (images.ts' toRgbBytes)", () => {
  const values = [-1, -0.99999, -0.5, 0, 0.0039, 0.5, 0.8, 1, 1.5, -3, Number.NaN, 229.5 / 127.5 - 1];
  const im: Image = {
    width: values.length,
    height: 1,
    data: Float32Array.from([...values, ...values, ...values]),
  };
  const rgb = toRgbBytes(im);
  const bytes = quantise(im);
  values.forEach((_, i) => assert.equal(bytes.data[i], rgb[3 * i], `value ${values[i]}`));
});

test("Pillow's Image.resize, bit for bit: every filter, down, up and one-axis sizes", () => {
  const { source, width, height, outputs, cases } = goldens.resize;
  const src = planar(readFileSync(join(DIR, source)), width, height);
  const all = readFileSync(join(DIR, outputs));
  let mismatched = 0;
  for (const c of cases) {
    const want = planar(all.subarray(c.offset, c.offset + 3 * c.width * c.height), c.width, c.height);
    const got = pilResize(src, c.width, c.height, c.resample);
    assert.deepEqual([got.width, got.height], [c.width, c.height]);
    const bad = got.data.reduce((n, v, i) => n + (v !== want.data[i] ? 1 : 0), 0);
    if (bad) mismatched++;
    assert.equal(bad, 0, `resample ${c.resample} to ${c.width}x${c.height}: ${bad} bytes differ`);
  }
  assert.equal(mismatched, 0);
  assert.ok(cases.length >= 60);
});

test('pixel_values equal CLIPImageProcessor(PIL) on 512x512, 384x512, 512x300 and upscaled 40x24 images', async () => {
  const cfg = clipImageConfig(JSON.parse(readFileSync(join(DIR, 'preprocessor_config.json'), 'utf8')));
  assert.deepEqual(
    [cfg.size, cfg.cropSize, cfg.resample],
    [{ shortestEdge: 64, longestEdge: undefined }, { height: 64, width: 64 }, 3],
  );
  for (const g of goldens.images) {
    const im = await image(g.name);
    assert.deepEqual([im.width, im.height], [g.width, g.height]);
    const got = clipPixelValues(im, cfg);
    assert.deepEqual([1, 3, got.height, got.width], g.dims);
    const diff = maxAbsDiff(got.data, readF32(g.pixel_values));
    assert.ok(diff <= 1e-6, `${g.name}: max |pixel_values - transformers| = ${diff}`);
  }
});

test("pixel_values follow the processor's settings: sizes, filters, flags, mean and std", async () => {
  for (const v of goldens.variants) {
    const cfg = clipImageConfig(v.kwargs, v.name);
    for (const o of v.outputs) {
      const got = clipPixelValues(await image(o.image), cfg);
      assert.deepEqual([1, 3, got.height, got.width], o.dims, `${v.name} on ${o.image}`);
      const diff = maxAbsDiff(got.data, readF32(o.pixel_values));
      assert.ok(diff <= 1e-6, `${v.name} on ${o.image}: max |pixel_values - transformers| = ${diff}`);
    }
  }
});

test('the CLIP backbone: image and text embeddings match PyTorch (cosine >= 0.9999)', async () => {
  const encoder = await ClipEncoder.open(DIR);
  try {
    const ims = await Promise.all(goldens.images.map((g) => image(g.name)));
    const embeds = await encoder.encodeImages(ims);
    goldens.images.forEach((g, i) => {
      const cos = cosine(embeds[i], g.image_embeds);
      assert.ok(cos >= 0.9999, `${g.name}: image embedding cosine ${cos}`);
    });
    for (const t of goldens.texts) assert.deepEqual(encoder.tokenizer.encode(t.text), t.input_ids, t.text);
    const texts = await encoder.encodeTexts(goldens.texts.map((t) => t.text));
    goldens.texts.forEach((t, i) => {
      const cos = cosine(texts[i], t.text_embeds);
      assert.ok(cos >= 0.9999, `'${t.text}': text embedding cosine ${cos}`);
    });
  } finally {
    await encoder.close();
  }
});

test('an unsupported resample or size is one RewardInputError sentence', () => {
  assert.throws(() => clipImageConfig({ resample: 8 }, 'x/preprocessor_config.json'), {
    name: 'RewardInputError',
    message:
      "x/preprocessor_config.json asks for resample 8, which the CLIP preprocessing does not implement: use one of Pillow's 0 (nearest), 1 (lanczos), 2 (bilinear), 3 (bicubic), 4 (box), 5 (hamming), 6 (mks2013) or 7 (mks2021).",
  });
  assert.throws(
    () => clipImageConfig({ size: { max_height: 100, max_width: 100 } }, 'p.json'),
    (e: Error) => e instanceof RewardInputError && e.message.startsWith('p.json has size'),
  );
  assert.throws(() => clipImageConfig({ do_resize: 'yes' }, 'p.json'), {
    message: 'p.json has do_resize "yes"; it must be true or false.',
  });
});
