// Content hashing for cache keys: canonical JSON (sorted keys) and folder hashes that are cached
// by file size and mtime, so planning against a multi-GB model does not re-read it each time.
import { createHash } from 'node:crypto';
import {
  createReadStream,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v as object)
        .sort()
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function hashJson(value: unknown): string {
  return sha256(canonicalJson(value));
}

function fileHash(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  walk(dir);
  return out;
}

type HashCache = Record<string, { signature: string; hash: string }>;

/**
 * sha256 over a folder's files (relative path and content hash of each, dot-files skipped), or of
 * a single file. With `cacheFile`, a result is reused while every file's size and mtime match.
 */
export async function contentHash(path: string, cacheFile?: string): Promise<string> {
  const st = statSync(path);
  const files = st.isDirectory() ? listFiles(path) : [path];
  const signature = sha256(
    files
      .map((f) => {
        const s = statSync(f);
        return `${relative(path, f)}\t${s.size}\t${s.mtimeMs}`;
      })
      .join('\n'),
  );
  let cache: HashCache = {};
  if (cacheFile) {
    try {
      cache = JSON.parse(readFileSync(cacheFile, 'utf8')) as HashCache;
    } catch {
      cache = {};
    }
    if (cache[path]?.signature === signature) return cache[path].hash;
  }
  const parts: string[] = [];
  for (const f of files) parts.push(`${relative(path, f)}\t${await fileHash(f)}`);
  const hash = sha256(parts.join('\n'));
  if (cacheFile) {
    cache[path] = { signature, hash };
    try {
      mkdirSync(join(cacheFile, '..'), { recursive: true });
      const tmp = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(cache, null, 1));
      renameSync(tmp, cacheFile);
    } catch {
      // The cache only saves time; a read-only state folder must not stop planning.
    }
  }
  return hash;
}
