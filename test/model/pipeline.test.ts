import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DiffusionPipeline } from '../../src/model/pipeline';
import { buildTinyModel } from '../../src/model/tiny';
import { GraphBuilder } from '../../src/train/builder';

let scratch: string;
let pipe: DiffusionPipeline;
before(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'alignrun-pipeline-'));
  pipe = await DiffusionPipeline.open(buildTinyModel(join(scratch, 'tiny'), { seed: 7 }));
});
after(async () => {
  await pipe.close();
  rmSync(scratch, { recursive: true, force: true });
});

const base = { scheduler: 'dpmpp_2m' as const, steps: 6, guidanceScale: 4 };
const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));

test('prompts become 32x32 CHW float32 images in [-1, 1], with progress per step', async () => {
  const steps: number[] = [];
  const images = await pipe.generate({
    ...base,
    prompts: ['a red circle', 'two blue squares on a white background'],
    seeds: [1, 2],
    onStep: (done, total) => steps.push(done * 100 + total),
  });
  assert.equal(images.length, 2);
  for (const img of images) {
    assert.equal(img.width, 32);
    assert.equal(img.height, 32);
    assert.ok(img.data instanceof Float32Array);
    assert.equal(img.data.length, 3 * 32 * 32);
    assert.ok(img.data.every((v) => Number.isFinite(v) && v >= -1 && v <= 1));
  }
  assert.deepEqual(steps, [106, 206, 306, 406, 506, 606]);
  assert.ok(!same(images[0].data, images[1].data));
});

test('the same seed gives a bit-identical image, whatever else is in the batch', async () => {
  const alone = await pipe.generate({ ...base, prompts: ['three green triangles'], seeds: [42] });
  const again = await pipe.generate({ ...base, prompts: ['three green triangles'], seeds: [42] });
  const batched = await pipe.generate({
    ...base,
    prompts: ['a red circle', 'three green triangles', 'a yellow square'],
    seeds: [5, 42, 6],
  });
  assert.ok(same(alone[0].data, again[0].data), 'same seed, same image');
  assert.ok(same(alone[0].data, batched[1].data), 'batch composition does not change an image');
  const other = await pipe.generate({ ...base, prompts: ['three green triangles'], seeds: [43] });
  assert.ok(!same(alone[0].data, other[0].data), 'another seed, another image');
});

test('classifier-free guidance changes the image; every scheduler runs', async () => {
  const req = { ...base, prompts: ['four purple stars'], seeds: [9] };
  const off = await pipe.generate({ ...req, guidanceScale: 1 });
  const on = await pipe.generate({ ...req, guidanceScale: 7.5 });
  let diff = 0;
  for (let i = 0; i < off[0].data.length; i++)
    diff = Math.max(diff, Math.abs(off[0].data[i] - on[0].data[i]));
  assert.ok(diff > 1e-3, `guidance changed the image by only ${diff}`);
  for (const scheduler of ['ddim', 'euler'] as const) {
    const [img] = await pipe.generate({ ...req, scheduler });
    assert.ok(img.data.every(Number.isFinite), scheduler);
  }
});

test('a fixed-batch build gives the same images, run in padded chunks', async () => {
  const fixed = await DiffusionPipeline.open(buildTinyModel(join(scratch, 'fixed'), { seed: 7, batch: 4 }));
  try {
    const req = { ...base, prompts: ['a red circle', 'a blue circle', 'a green circle'], seeds: [1, 2, 3] };
    const a = await fixed.generate(req);
    const b = await pipe.generate(req);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < a[i].data.length; j++) assert.ok(Math.abs(a[i].data[j] - b[i].data[j]) < 1e-4);
    }
  } finally {
    await fixed.close();
  }
});

test('a latent-space model decodes through its VAE decoder', async () => {
  const dir = join(scratch, 'latent');
  cpSync(join(scratch, 'tiny'), dir, { recursive: true });
  writeFileSync(
    join(dir, 'model_index.json'),
    JSON.stringify({
      unet: ['diffusers', 'OnnxRuntimeModel'],
      vae_decoder: ['diffusers', 'OnnxRuntimeModel'],
    }),
  );
  // A stand-in decoder: 2x nearest upsampling of the "latents" (two VAE levels -> factor 2).
  const b = new GraphBuilder();
  const z = b.input('latent_sample', 'float32', ['batch', 3, 32, 32]);
  b.output(b.identity(b.tanh(b.resize(z, [1, 1, 2, 2])), 'sample'), 'float32', ['batch', 3, 64, 64]);
  b.save(join(dir, 'vae_decoder', 'model.onnx'));
  writeFileSync(
    join(dir, 'vae_decoder', 'config.json'),
    JSON.stringify({ block_out_channels: [8, 8], scaling_factor: 0.5 }),
  );
  const latent = await DiffusionPipeline.open(dir);
  try {
    const [img] = await latent.generate({ ...base, prompts: ['a red circle'], seeds: [1] });
    assert.equal(img.width, 64);
    assert.equal(img.data.length, 3 * 64 * 64);
    const [pixel] = await pipe.generate({ ...base, prompts: ['a red circle'], seeds: [1] });
    // Decoded = tanh(latent / 0.5) at the top-left pixel of each 2x2 block.
    assert.ok(Math.abs(img.data[0] - Math.tanh(pixel.data[0] / 0.5)) < 1e-5 || Math.abs(pixel.data[0]) === 1);
  } finally {
    await latent.close();
  }
});
