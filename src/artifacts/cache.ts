// The stage-result cache index: `<state>/cache/<instanceKey>.json`, one finished result each.
// Written only after the stage's artifacts are in the store, so a hit is always usable.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactStore, StageResult } from './types';

const KEY = /^[0-9A-Za-z._-]{1,128}$/;

export class StageCache {
  constructor(
    readonly dir: string,
    private readonly store?: ArtifactStore,
  ) {}

  /** The finished result for `key`, or undefined (also when one of its artifacts went missing). */
  async lookup(key: string): Promise<StageResult | undefined> {
    const file = this.file(key);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      return undefined;
    }
    const result = JSON.parse(text) as StageResult;
    if (this.store) {
      for (const ref of Object.values(result.artifacts)) if (!(await this.store.has(ref))) return undefined;
    }
    return result;
  }

  async record(result: StageResult): Promise<void> {
    if (this.store) {
      for (const [name, ref] of Object.entries(result.artifacts)) {
        if (!(await this.store.has(ref))) {
          throw new Error(
            `Stage ${result.key} names artifact ${name} (${ref.sha256}) that is not in the store.`,
          );
        }
      }
    }
    const dest = this.file(result.key);
    await mkdir(this.dir, { recursive: true });
    const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(tmp, JSON.stringify(result, null, 2));
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async forget(key: string): Promise<void> {
    await rm(this.file(key), { force: true });
  }

  private file(key: string): string {
    if (!KEY.test(key)) throw new Error(`Not a stage cache key: ${JSON.stringify(key)}.`);
    return path.join(this.dir, `${key}.json`);
  }
}
