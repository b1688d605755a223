// Latent model folders that are incomplete or inconsistent: each is one sentence naming the file
// and what to do (copies of the tiny SD fixture, broken one way each).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ModelFolderError, loadModelFolder } from '../../src/model/loader';
import { assertOneSentence as oneSentence } from '../helpers/errors';

const assertOneSentence = (fn: () => unknown, pattern: RegExp) => oneSentence(fn, ModelFolderError, pattern);
import { GraphBuilder } from '../../src/train/builder';
import { saveModel } from '../../src/train/ir';

const FIXTURE = 'test/fixtures/sd-tiny';
const scratch = mkdtempSync(join(tmpdir(), 'alignrun-layouts-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function broken(layout: string, name: string, edit: (dir: string) => void): string {
  const dir = join(scratch, name);
  cpSync(join(FIXTURE, layout), dir, { recursive: true });
  edit(dir);
  return dir;
}

const json = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

test('a VAE whose latents have other channels than the UNet takes', () => {
  const dir = broken('conversion', 'vae-channels', (d) =>
    writeFileSync(join(d, 'vae_decoder', 'config.json'), JSON.stringify({ latent_channels: 8 })),
  );
  assertOneSentence(
    () => loadModelFolder(dir),
    /unet\/model\.onnx takes 4-channel samples but .*vae_decoder\/model\.onnx decodes 8-channel latents; .*one pipeline/,
  );
});

test('a unet/config.json that disagrees with the UNet graph', () => {
  const dir = broken('pipeline', 'unet-config', (d) => {
    const c = json(join(d, 'unet', 'config.json'));
    writeFileSync(join(d, 'unet', 'config.json'), JSON.stringify({ ...c, in_channels: 8 }));
  });
  assertOneSentence(
    () => loadModelFolder(dir),
    /takes 4-channel samples but unet\/config\.json says in_channels 8/,
  );
});

test('parts model_index.json lists but the folder lacks', () => {
  assertOneSentence(
    () =>
      loadModelFolder(
        broken('pipeline', 'no-encoder', (d) => rmSync(join(d, 'vae_encoder'), { recursive: true })),
      ),
    /lists vae_encoder but .*vae_encoder\/model\.onnx is missing/,
  );
  assertOneSentence(
    () =>
      loadModelFolder(
        broken('optimum', 'no-decoder', (d) => rmSync(join(d, 'vae_decoder'), { recursive: true })),
      ),
    /vae_decoder\/model\.onnx is missing; export the vae_decoder/,
  );
  assertOneSentence(
    () => loadModelFolder(broken('pipeline', 'no-weights', (d) => rmSync(join(d, 'unet', 'model.onnx')))),
    /unet\/model\.onnx is missing/,
  );
});

test('a latent UNet in a folder that lists no VAE, and a VAE folder model_index.json does not list', () => {
  const unlisted = broken('pipeline', 'unlisted-vae', (d) => {
    const index = json(join(d, 'model_index.json'));
    writeFileSync(
      join(d, 'model_index.json'),
      JSON.stringify({ ...index, vae_decoder: [null, null], vae_encoder: [null, null] }),
    );
  });
  assertOneSentence(() => loadModelFolder(unlisted), /lists no VAE but .*vae_decoder\/model\.onnx exists/);
  rmSync(join(unlisted, 'vae_decoder'), { recursive: true });
  assertOneSentence(
    () => loadModelFolder(unlisted),
    /takes 4-channel samples but .*lists no VAE; a pixel-space model's UNet takes 3-channel images/,
  );
});

test('a VAE encoder with outputs neither optimum nor the conversion script gives', () => {
  const dir = broken('optimum', 'odd-encoder', (d) => {
    const b = new GraphBuilder({ opset: 17 });
    b.input('sample', 'float32', ['batch', 3, 32, 32]);
    b.node('Identity', ['sample'], {}, { outputs: 'moments' });
    b.output('moments', 'float32', ['batch', 3, 32, 32]);
    saveModel(b.build(), join(d, 'vae_encoder', 'model.onnx'));
  });
  assertOneSentence(
    () => loadModelFolder(dir),
    /vae_encoder\/model\.onnx gives \("moments"\); a VAE encoder must output "latent_parameters"/,
  );
});
