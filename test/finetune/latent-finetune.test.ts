// Fine-tuning a latent model on the tiny random SD-1.5-architecture fixture, in each of its three
// ONNX layouts: model samples carry the latents generation stored, D_pre comes from a committed
// imagefolder (resized, centre-cropped, VAE-encoded once and cached); the tuned folder has every
// part model_index.json lists and generates again.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { LORA_FILE } from '../../src/finetune/denoise';
import { finetune } from '../../src/finetune/finetune';
import { ImageFolderError, readImageFolder } from '../../src/finetune/imagefolder';
import { generateImages } from '../../src/model/generate';
import { readLatents, readTensor } from '../../src/stages/examples';
import { decodeSafetensors } from '../../src/train/lora-export';

const FIXTURE = 'test/fixtures/sd-tiny';
const FOLDER = join(FIXTURE, 'imagefolder');
const scratch = mkdtempSync(join(tmpdir(), 'alignrun-latent-ft-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Two generated images per prompt, as the generate stage writes them (with latents). */
async function generated(layout: string) {
  const outDir = join(scratch, `gen-${layout}`);
  const entries = await generateImages(
    {
      modelDir: join(FIXTURE, layout),
      prompts: [
        { id: 'p0', text: 'a red cube on a blue floor' },
        { id: 'p1', text: 'two green spheres' },
      ],
      imagesPerPrompt: 2,
      seed: 1,
      scheduler: 'ddim',
      steps: 3,
      guidanceScale: 1,
      batchSize: 2,
    },
    { outDir },
  );
  return entries.map((m, i) => ({
    image: readTensor(outDir, m.tensor, m.dims),
    latents: readLatents(outDir, m),
    prompt: m.prompt,
    label: i % 2,
  }));
}

for (const layout of ['pipeline', 'optimum']) {
  test(`full fine-tuning of the ${layout} layout in latent space, D_pre from an imagefolder`, async () => {
    const labelled = await generated(layout);
    assert.ok(
      labelled.every((e) => e.latents?.length === 4 * 16 * 16),
      'generation stored 4x16x16 latents',
    );
    const outDir = join(scratch, `tuned-${layout}`);
    const cacheDir = join(scratch, `cache-${layout}`);
    const params = {
      steps: 3,
      batch_size: 2,
      learning_rate: 1e-3,
      beta: 0.5,
      pretrain_data: { source: 'folder' as const, path: FOLDER },
    };
    const r = await finetune({
      params,
      baseDir: join(FIXTURE, layout),
      outDir,
      labelled,
      latentCacheDir: cacheDir,
    });
    assert.equal(r.losses.length, 3);
    assert.ok(
      r.losses.every((l) => Number.isFinite(l) && l > 0),
      `losses ${r.losses}`,
    );
    // The imagefolder's four images were encoded once and cached by content.
    assert.equal(readdirSync(cacheDir).length, 4);
    const index = JSON.parse(readFileSync(join(outDir, 'model_index.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    for (const [k, v] of Object.entries(index)) {
      if (!Array.isArray(v) || v[0] === null) continue;
      for (const part of k === 'vae' ? ['vae_decoder', 'vae_encoder'] : [k])
        assert.ok(
          existsSync(join(outDir, part)),
          `the tuned folder has ${part}/, which model_index.json lists`,
        );
    }
    assert.ok(existsSync(join(outDir, 'vae_encoder', 'model.onnx')));
    const before = statSync(join(cacheDir, readdirSync(cacheDir)[0])).mtimeMs;
    // A second run reads the cache instead of encoding again, and the tuned model generates.
    await finetune({
      params,
      baseDir: join(FIXTURE, layout),
      outDir: join(scratch, `again-${layout}`),
      labelled,
      latentCacheDir: cacheDir,
    });
    assert.equal(statSync(join(cacheDir, readdirSync(cacheDir)[0])).mtimeMs, before);
    const again = await generated(layout);
    assert.equal(again.length, 4);
    const tuned = await generateImages(
      {
        modelDir: outDir,
        prompts: [{ id: 'p0', text: 'a red cube on a blue floor' }],
        imagesPerPrompt: 1,
        seed: 1,
        scheduler: 'ddim',
        steps: 3,
        guidanceScale: 1,
        batchSize: 1,
      },
      { outDir: join(scratch, `tuned-gen-${layout}`) },
    );
    assert.equal(tuned.length, 1);
  });
}

test('the conversion layout (free channel dims, external data, no configs) fine-tunes at the size of its images', async () => {
  const labelled = await generated('pipeline');
  const r = await finetune({
    params: { steps: 2, batch_size: 2, beta: 0 },
    baseDir: join(FIXTURE, 'conversion'),
    outDir: join(scratch, 'tuned-conversion'),
    labelled: labelled.map((e) => ({ ...e, label: 1 })),
  });
  assert.equal(r.losses.length, 2);
});

test('a bad imagefolder is one sentence naming the file', () => {
  assert.throws(
    () => readImageFolder(join(scratch, 'none')),
    (e: Error) => e instanceof ImageFolderError && /does not exist/.test(e.message),
  );
  assert.throws(
    () => readImageFolder(FIXTURE),
    (e: Error) => e instanceof ImageFolderError && /metadata\.jsonl is missing/.test(e.message),
  );
});

for (const layout of ['pipeline', 'conversion', 'optimum']) {
  test(`LoRA on to_q, to_k, to_v, to_out.0 of the ${layout} layout adapts exactly the attention projections`, async () => {
    const labelled = (await generated('pipeline')).map((e) => ({ ...e, label: 1 }));
    const outDir = join(scratch, `lora-${layout}`);
    await finetune({
      params: {
        steps: 2,
        batch_size: 2,
        beta: 0,
        method: 'lora',
        lora: { rank: 4, alpha: 4, targets: ['to_q', 'to_k', 'to_v', 'to_out.0'] },
      },
      baseDir: join(FIXTURE, layout),
      outDir,
      labelled,
    });
    const golden = JSON.parse(readFileSync(join(FIXTURE, 'golden', 'lora-keys.json'), 'utf8')) as {
      keys: Record<string, number[]>;
    };
    const file = decodeSafetensors(readFileSync(join(outDir, LORA_FILE)));
    const ours = Object.fromEntries([...file.tensors].map(([k, t]) => [k, t.dims]));
    assert.deepEqual(ours, golden.keys);
    assert.deepEqual(file.metadata, { format: 'pt' });
  });
}

test('LoRA targets that match nothing are one sentence naming the patterns and some modules', async () => {
  const labelled = (await generated('pipeline')).map((e) => ({ ...e, label: 1 }));
  await assert.rejects(
    finetune({
      params: { steps: 1, batch_size: 2, beta: 0, method: 'lora', lora: { targets: ['to_qq'] } },
      baseDir: join(FIXTURE, 'pipeline'),
      outDir: join(scratch, 'lora-none'),
      labelled,
    }),
    (e: Error) =>
      /to_qq/.test(e.message) && /to_q/.test(e.message.replace('to_qq', '')) && !e.message.includes('\n'),
  );
});
