// Generation on the tiny random SD-1.5-architecture fixture (scripts/reference/make_sd_fixture.py)
// in its three ONNX layouts, against diffusers' StableDiffusionPipeline from the same initial
// latents: every scheduler, guidance 1 and 7.5.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadModelFolder } from '../../src/model/loader';
import { readNpy } from '../../src/model/npy';
import { DiffusionPipeline } from '../../src/model/pipeline';
import type { SchedulerName } from '../../src/model/schedulers/index';

const FIXTURE = 'test/fixtures/sd-tiny';
const GOLD = join(FIXTURE, 'golden');
const meta = JSON.parse(readFileSync(join(GOLD, 'versions.json'), 'utf8')) as {
  prompts: string[];
  steps: number;
};
const LAYOUTS = ['pipeline', 'conversion', 'optimum'] as const;
const SCHEDULERS: [string, SchedulerName][] = [
  ['ddim', 'ddim'],
  ['euler', 'euler'],
  ['dpmpp_2m', 'dpmpp_2m'],
];

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('the three layouts load as one 4-channel latent model of 32x32 images', () => {
  for (const layout of LAYOUTS) {
    const m = loadModelFolder(
      join(FIXTURE, layout),
      layout === 'conversion' ? { image: { height: 32, width: 32 } } : {},
    );
    assert.deepEqual(m.sample, { channels: 4, height: 16, width: 16 }, layout);
    assert.deepEqual(m.image, { height: 32, width: 32 }, layout);
    assert.equal(m.vaeScaleFactor, 2, layout);
    assert.ok(m.vaeDecoder && m.vaeEncoder, layout);
    assert.equal(m.vaeScalingFactor, 0.18215, layout);
  }
  // Without unet/config.json, free spatial dims default to OnnxStableDiffusionPipeline's 512x512.
  assert.deepEqual(loadModelFolder(join(FIXTURE, 'conversion')).image, { height: 512, width: 512 });
});

for (const layout of LAYOUTS) {
  describe(`generation on the ${layout} layout matches diffusers`, () => {
    let pipe: DiffusionPipeline;
    before(async () => {
      pipe = await DiffusionPipeline.open(join(FIXTURE, layout), { image: { height: 32, width: 32 } });
    });
    after(() => pipe.close());
    const init = readNpy(join(GOLD, 'init_latents.npy'));
    for (const [tag, scheduler] of SCHEDULERS) {
      for (const g of [1, 7.5]) {
        test(`${tag}, guidance ${g}`, async (t) => {
          const out = await pipe.generate({
            prompts: meta.prompts,
            seeds: meta.prompts.map((_, i) => i),
            scheduler,
            steps: meta.steps,
            guidanceScale: g,
            initialLatents: init.data,
          });
          const image = readNpy(join(GOLD, `gen-${tag}-g${g}-image.npy`));
          const latents = readNpy(join(GOLD, `gen-${tag}-g${g}-latents.npy`));
          const ours = new Float32Array(image.data.length);
          const per = ours.length / out.length;
          out.forEach((im, i) =>
            ours.set(
              im.data.map((v) => (v + 1) / 2),
              i * per,
            ),
          );
          const lat = new Float32Array(latents.data.length);
          out.forEach((im, i) => lat.set(im.latents, i * im.latents.length));
          const dImage = maxAbs(ours, image.data);
          const dLatents = maxAbs(lat, latents.data);
          t.diagnostic(
            `max abs difference: image ${dImage.toExponential(2)}, latents ${dLatents.toExponential(2)}`,
          );
          assert.ok(dImage <= 1e-4, `images differ by ${dImage}`);
          assert.ok(dLatents <= 1e-4, `latents differ by ${dLatents}`);
        });
      }
    }
  });
}
