// The VAE encoder on the fixture's three layouts against diffusers' AutoencoderKL.encode: the
// posterior mean, whether the export gives the distribution's parameters (optimum) or draws a
// sample in the graph (OnnxStableDiffusionPipeline / conversion script).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadModelFolder } from '../../src/model/loader';
import { readNpy } from '../../src/model/npy';
import { VaeEncoder } from '../../src/model/vae';

const FIXTURE = 'test/fixtures/sd-tiny';
const GOLD = join(FIXTURE, 'golden');

for (const layout of ['pipeline', 'conversion', 'optimum']) {
  test(`the ${layout} layout's VAE encoder gives diffusers' posterior mean`, async (t) => {
    const model = loadModelFolder(join(FIXTURE, layout), { image: { height: 32, width: 32 } });
    const images = readNpy(join(GOLD, 'vae-images.npy'));
    const mean = readNpy(join(GOLD, 'vae-mean.npy'));
    const per = 3 * 32 * 32;
    const vae = await VaeEncoder.open(model);
    try {
      const list = [0, 1].map((i) => ({
        width: 32,
        height: 32,
        data: images.data.slice(i * per, (i + 1) * per),
      }));
      const got = await vae.encodeMean(list);
      let worst = 0;
      got.forEach((m, i) =>
        m.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - mean.data[i * m.length + j])))),
      );
      t.diagnostic(`max abs difference ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-4, `posterior means differ by ${worst}`);
      const scaled = await vae.encode(list.slice(0, 1));
      assert.ok(Math.abs(scaled[0][5] - got[0][5] * 0.18215) < 1e-7, 'encode scales by scaling_factor');
    } finally {
      await vae.close();
    }
  });
}
