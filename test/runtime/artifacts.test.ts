import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { DIR_MANIFEST_MEDIA_TYPE, openArtifacts } from '../../src/artifacts/index';

const dir = mkdtempSync(path.join(os.tmpdir(), 'alignrun-art-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const { store, cache } = openArtifacts(dir);
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

test('put names bytes by their sha256 and get returns them', async () => {
  const ref = await store.put('hello', { mediaType: 'text/plain' });
  assert.deepEqual(ref, { sha256: sha('hello'), size: 5, mediaType: 'text/plain' });
  assert.equal((await store.get(ref)).toString(), 'hello');
  assert.equal(await store.has(ref.sha256), true);
  assert.equal(await store.has(sha('other')), false);
  assert.equal(readFileSync(await store.path(ref), 'utf8'), 'hello');
  // Same content, same blob, no temp files left behind.
  await store.put(Buffer.from('hello'));
  const blobs = readdirSync(path.dirname(await store.path(ref)));
  assert.deepEqual(blobs, [ref.sha256]);
});

test('putFile and putDir round-trip a folder through its manifest', async () => {
  const src = path.join(dir, 'src');
  mkdirSync(path.join(src, 'unet'), { recursive: true });
  writeFileSync(path.join(src, 'model_index.json'), '{}');
  writeFileSync(path.join(src, 'unet', 'model.onnx'), Buffer.alloc(1000, 7));
  const f = await store.putFile(path.join(src, 'unet', 'model.onnx'));
  assert.equal(f.sha256, sha(Buffer.alloc(1000, 7)));
  const ref = await store.putDir(src);
  assert.equal(ref.mediaType, DIR_MANIFEST_MEDIA_TYPE);
  const manifest = JSON.parse((await store.get(ref)).toString());
  assert.deepEqual(Object.keys(manifest.files), ['model_index.json', 'unet/model.onnx']);
  const out = path.join(dir, 'out');
  await store.getDir(ref, out);
  assert.deepEqual(readFileSync(path.join(out, 'unet', 'model.onnx')), Buffer.alloc(1000, 7));
});

test('bad references get a clear error', async () => {
  await assert.rejects(store.get('nope'), /Not an artifact reference/);
  await assert.rejects(store.get(sha('missing')), /is not in the store/);
});

test('the cache index holds finished results whose artifacts exist', async () => {
  const key = 'a'.repeat(64);
  assert.equal(await cache.lookup(key), undefined);
  const ref = await store.put('weights');
  const result = {
    key,
    artifacts: { model: ref },
    metrics: { loss: 0.5 },
    finishedAt: '2024-01-01T00:00:00.000Z',
  };
  await cache.record(result);
  assert.deepEqual(await cache.lookup(key), result);
  const missing = { ...result, key: 'b'.repeat(64), artifacts: { model: { sha256: sha('x'), size: 1 } } };
  await assert.rejects(cache.record(missing), /not in the store/);
  assert.equal(await cache.lookup(missing.key), undefined);
  await assert.rejects(cache.lookup('../escape'), /Not a stage cache key/);
});
