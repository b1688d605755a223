import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ModelFolderError, loadModelFolder } from '../../src/model/loader';
import { assertOneSentence as oneSentence } from '../helpers/errors';

const assertOneSentence = (fn: () => unknown, pattern: RegExp) => oneSentence(fn, ModelFolderError, pattern);
import { readOnnxSignature } from '../../src/model/onnxHeader';
import { buildTinyModel } from '../../src/model/tiny';
import { GraphBuilder } from '../../src/train/builder';

let scratch: string;
let tiny: string;
before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'alignrun-loader-'));
  tiny = buildTinyModel(join(scratch, 'tiny'), { seed: 3 });
});
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of the tiny model with one change. */
function broken(name: string, change: (dir: string) => void): string {
  const dir = join(scratch, name);
  cpSync(tiny, dir, { recursive: true });
  change(dir);
  return dir;
}

test('the tiny model folder loads, as a pixel-space model', () => {
  const m = loadModelFolder(tiny);
  assert.equal(m.vaeDecoder, null);
  assert.deepEqual(m.sample, { channels: 3, height: 32, width: 32 });
  assert.deepEqual(m.image, { height: 32, width: 32 });
  assert.equal(m.promptLength, 16);
  assert.deepEqual(m.dtypes, { inputIds: 'int32', timestep: 'float32', sample: 'float32' });
  assert.equal(m.unetBatch, undefined);
  assert.equal(m.scheduler.betaSchedule, 'linear');
  assert.deepEqual(
    m.unet.signature.inputs.map((t) => [t.name, t.dims]),
    [
      ['sample', ['batch', 3, 32, 32]],
      ['timestep', ['batch']],
      ['encoder_hidden_states', ['batch', 16, 64]],
    ],
  );
});

test('a fixed-batch build reports its batch', () => {
  const dir = buildTinyModel(join(scratch, 'fixed'), { seed: 3, batch: 4 });
  assert.equal(loadModelFolder(dir).unetBatch, 4);
});

test('a missing UNet file is named', () => {
  const dir = broken('no-unet', (d) => rmSync(join(d, 'unet', 'model.onnx')));
  assertOneSentence(() => loadModelFolder(dir), /unet\/model\.onnx is missing; export the unet/);
});

test('a file that is not ONNX is named', () => {
  const dir = broken('garbage', (d) =>
    writeFileSync(join(d, 'text_encoder', 'model.onnx'), 'not a model\n'.repeat(50)),
  );
  assertOneSentence(() => loadModelFolder(dir), /text_encoder\/model\.onnx is not an ONNX model/);
});

test('a UNet with a wrong input name says which name it lacks and which it has', () => {
  const dir = broken('renamed', (d) => {
    const b = new GraphBuilder();
    const x = b.input('latents', 'float32', [1, 3, 32, 32]);
    b.input('timestep', 'float32', [1]);
    b.input('encoder_hidden_states', 'float32', [1, 16, 64]);
    b.output(b.identity(x, 'out_sample'), 'float32', [1, 3, 32, 32]);
    b.save(join(d, 'unet', 'model.onnx'));
  });
  assertOneSentence(
    () => loadModelFolder(dir),
    /unet\/model\.onnx has no input named "sample" \(it has "latents", "timestep", "encoder_hidden_states"\)/,
  );
});

test('a latent-space model without its VAE decoder is named', () => {
  const dir = broken('no-vae', (d) =>
    writeFileSync(
      join(d, 'model_index.json'),
      JSON.stringify({
        unet: ['diffusers', 'OnnxRuntimeModel'],
        vae_decoder: ['diffusers', 'OnnxRuntimeModel'],
      }),
    ),
  );
  assertOneSentence(() => loadModelFolder(dir), /vae_decoder\/model\.onnx is missing/);
});

test('missing folder, index, tokenizer and a bad scheduler config are each one sentence', () => {
  assertOneSentence(() => loadModelFolder(join(scratch, 'nowhere')), /nowhere does not exist/);
  assertOneSentence(
    () => loadModelFolder(broken('no-index', (d) => rmSync(join(d, 'model_index.json')))),
    /model_index\.json is missing/,
  );
  assertOneSentence(
    () => loadModelFolder(broken('no-tok', (d) => rmSync(join(d, 'tokenizer'), { recursive: true }))),
    /tokenizer is missing/,
  );
  assertOneSentence(
    () =>
      loadModelFolder(
        broken('bad-sched', (d) =>
          writeFileSync(join(d, 'scheduler', 'scheduler_config.json'), '{"beta_schedule": "cosine"}'),
        ),
      ),
    /scheduler_config\.json: "beta_schedule" is "cosine"/,
  );
});

test('signatures of weights kept as external data are read without the weights', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['n', 256]);
  const w = b.initializer('w', new Float32Array(256 * 256).fill(0.5), [256, 256]);
  b.output(b.identity(b.matmul(x, w), 'y'), 'float32', ['n', 256]);
  const path = join(scratch, 'ext', 'model.onnx');
  b.save(path, { externalDataThreshold: 1024 });
  assert.deepEqual(readOnnxSignature(path), {
    inputs: [{ name: 'x', dtype: 'float32', dims: ['n', 256] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: ['n', 256] }],
  });
});
