// The default artifact store: a folder of files named by their sha256, written atomically.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DIR_MANIFEST_MEDIA_TYPE, type ArtifactRef, type ArtifactStore, type DirManifest } from './types';

const HEX64 = /^[0-9a-f]{64}$/;

export class LocalArtifactStore implements ArtifactStore {
  /** `root` is usually `<state>/artifacts`. */
  constructor(readonly root: string) {}

  async put(data: Uint8Array | string, opts: { mediaType?: string } = {}): Promise<ArtifactRef> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const dest = this.blobPath(sha256);
    if (!(await exists(dest))) await this.atomically(dest, (tmp) => writeFile(tmp, bytes));
    return withType({ sha256, size: bytes.byteLength }, opts.mediaType);
  }

  async putFile(file: string, opts: { mediaType?: string } = {}): Promise<ArtifactRef> {
    // Streamed hash so multi-GB checkpoints never sit in memory whole.
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    const sha256 = hash.digest('hex');
    const dest = this.blobPath(sha256);
    if (!(await exists(dest))) await this.atomically(dest, (tmp) => copyFile(file, tmp));
    return withType({ sha256, size: (await stat(dest)).size }, opts.mediaType);
  }

  async putDir(dir: string): Promise<ArtifactRef> {
    const files: DirManifest['files'] = {};
    for (const rel of await listFiles(dir)) files[rel] = await this.putFile(path.join(dir, rel));
    const manifest: DirManifest = {
      files: Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1))),
    };
    return this.put(JSON.stringify(manifest), { mediaType: DIR_MANIFEST_MEDIA_TYPE });
  }

  async get(ref: ArtifactRef | string): Promise<Buffer> {
    return readFile(await this.path(ref));
  }

  async has(ref: ArtifactRef | string): Promise<boolean> {
    return exists(this.blobPath(shaOf(ref)));
  }

  async path(ref: ArtifactRef | string): Promise<string> {
    const p = this.blobPath(shaOf(ref));
    if (!(await exists(p))) throw new Error(`Artifact ${shaOf(ref)} is not in the store at ${this.root}.`);
    return p;
  }

  async getDir(ref: ArtifactRef | string, dest: string): Promise<void> {
    const manifest = JSON.parse((await this.get(ref)).toString('utf8')) as DirManifest;
    for (const [rel, fileRef] of Object.entries(manifest.files)) {
      const target = path.resolve(dest, rel);
      if (!target.startsWith(path.resolve(dest) + path.sep))
        throw new Error(`Manifest path ${rel} leaves ${dest}.`);
      await mkdir(path.dirname(target), { recursive: true });
      await copyFile(await this.path(fileRef), target);
    }
  }

  private blobPath(sha256: string): string {
    // Two-level fan-out keeps folders small when a run stores many thousands of images.
    return path.join(this.root, 'sha256', sha256.slice(0, 2), sha256);
  }

  // Temp file in the same folder, then rename: readers never see a partial blob.
  private async atomically(dest: string, write: (tmp: string) => Promise<void>): Promise<void> {
    await mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await write(tmp);
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }
}

function shaOf(ref: ArtifactRef | string): string {
  const sha = typeof ref === 'string' ? ref : ref.sha256;
  if (!HEX64.test(sha)) throw new Error(`Not an artifact reference: ${JSON.stringify(sha)}.`);
  return sha;
}

function withType(ref: ArtifactRef, mediaType?: string): ArtifactRef {
  return mediaType ? { ...ref, mediaType } : ref;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}
