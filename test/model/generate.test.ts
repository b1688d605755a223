import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { generateImages, GenerateError, imageSeed, type GenerateSpec } from '../../src/model/generate';

const scratch = mkdtempSync(join(tmpdir(), 'alignrun-generate-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const spec: GenerateSpec = {
  modelDir: fileURLToPath(new URL('../../models/tiny-random', import.meta.url)),
  prompts: [
    { id: 'a-red-circle', text: 'a red circle' },
    { id: 'two-blue-squares', text: 'two blue squares' },
    { id: 'three-green-triangles', text: 'three green triangles on a white background' },
  ],
  imagesPerPrompt: 2,
  seed: 2024,
  scheduler: 'ddim',
  steps: 4,
  guidanceScale: 3,
  batchSize: 4,
};

const manifest = (dir: string) =>
  readFileSync(join(dir, 'manifest.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

test('writes a PNG, a raw tensor and a manifest line per image', async () => {
  const dir = join(scratch, 'whole');
  const progress: string[] = [];
  const entries = await generateImages(spec, {
    outDir: dir,
    onProgress: (d, t) => progress.push(`${d}/${t}`),
  });
  assert.equal(entries.length, 6);
  assert.deepEqual(progress, ['0/6', '1/6', '2/6', '3/6', '4/6', '5/6', '6/6']);
  const lines = manifest(dir);
  assert.deepEqual(lines, entries);
  const first = lines[0];
  assert.equal(first.promptId, 'a-red-circle');
  assert.equal(first.prompt, 'a red circle');
  assert.equal(first.seed, imageSeed(2024, 'a-red-circle', 0));
  assert.deepEqual(first.settings, {
    runSeed: 2024,
    scheduler: 'ddim',
    steps: 4,
    guidanceScale: 3,
    negativePrompt: '',
  });
  assert.deepEqual(first.dims, [3, 32, 32]);
  const tensor = readFileSync(join(dir, first.tensor));
  assert.equal(tensor.length, 3 * 32 * 32 * 4);
  const meta = await sharp(join(dir, first.png)).metadata();
  assert.equal(meta.format, 'png');
  assert.equal(meta.width, 32);
});

test('a run cut mid-batch resumes to exactly what an uninterrupted run writes', async () => {
  const whole = join(scratch, 'whole');
  const dir = join(scratch, 'resumed');
  const stop = new AbortController();
  await assert.rejects(
    generateImages(spec, { outDir: dir, signal: stop.signal, onProgress: (d) => d === 2 && stop.abort() }),
    /abort/i,
  );
  assert.equal(manifest(dir).length, 2, 'two images of the first batch of four were written');
  // A crash while appending leaves half a line.
  appendFileSync(join(dir, 'manifest.jsonl'), '{"promptId":"two-bl');
  const progress: string[] = [];
  await generateImages(spec, { outDir: dir, onProgress: (d, t) => progress.push(`${d}/${t}`) });
  assert.deepEqual(progress, ['2/6', '3/6', '4/6', '5/6', '6/6']);
  assert.deepEqual(manifest(dir), manifest(whole));
  for (const e of manifest(whole)) {
    assert.ok(readFileSync(join(dir, e.tensor)).equals(readFileSync(join(whole, e.tensor))), e.tensor);
    assert.ok(readFileSync(join(dir, e.png)).equals(readFileSync(join(whole, e.png))), e.png);
  }
  // Nothing left to do: a third run only reports.
  const again: string[] = [];
  await generateImages(spec, { outDir: dir, onProgress: (d, t) => again.push(`${d}/${t}`) });
  assert.deepEqual(again, ['6/6']);
});

test('other settings into the same folder, and unusable prompt ids, are refused in one sentence', async () => {
  const dir = join(scratch, 'whole');
  await assert.rejects(generateImages({ ...spec, seed: 7 }, { outDir: dir }), (err: Error) => {
    assert.ok(err instanceof GenerateError);
    assert.match(err.message, /holds images generated with other settings .*; write to a new folder\.$/);
    return true;
  });
  await assert.rejects(
    generateImages({ ...spec, prompts: [{ id: '../x', text: 'x' }] }, { outDir: join(scratch, 'bad') }),
    /Prompt id "\.\.\/x" cannot name a file/,
  );
  await assert.rejects(
    generateImages(
      { ...spec, prompts: [spec.prompts[0], spec.prompts[0]] },
      { outDir: join(scratch, 'bad') },
    ),
    /appears twice/,
  );
});
