// Turns a resolved experiment spec into MLflow params (dotted keys, string values within MLflow's
// limits) and builds the standard tags every alignrun run carries.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MAX_KEY_LENGTH, MAX_PARAM_VALUE_LENGTH, type KeyValue } from './batch';

const TRUNCATION_MARK = '…';

const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

// MLflow keys may hold only letters, digits, '_', '-', '.', ' ', ':' and '/', and must stay the
// same under path normalisation (no '//', no trailing '/').
function sanitizeKey(path: string): string {
  let key = path
    .replace(/[^\w.\- :/]/g, '_')
    .replace(/\/{2,}/g, '/')
    .replace(/^\/+|\/+$/g, '');
  if (key === '') key = '_';
  if (key.length > MAX_KEY_LENGTH) key = `${key.slice(0, MAX_KEY_LENGTH - 9)}-${shortHash(path)}`;
  return key;
}

/** Cuts `value` to MLflow's param value limit (counted in code points, as Python does). */
export function truncateParamValue(value: string, limit = MAX_PARAM_VALUE_LENGTH): string {
  const chars = Array.from(value);
  if (chars.length <= limit) return value;
  return chars.slice(0, limit - TRUNCATION_MARK.length).join('') + TRUNCATION_MARK;
}

function scalarString(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null) return 'null';
  if (typeof v === 'bigint') return v.toString();
  return JSON.stringify(v);
}

/**
 * Flattens a nested object into params: `{ stages: { reward: { lambda: 0.5 } } }` gives
 * `stages.reward.lambda = "0.5"`; array items are numbered (`prompts.0`). Empty objects and
 * arrays are kept as `{}` / `[]`, undefined values dropped. Keys are made valid for MLflow and
 * stay unique; values are truncated to MLflow's limit.
 */
export function flattenParams(value: Record<string, unknown>, prefix = ''): KeyValue[] {
  const out: KeyValue[] = [];
  const seen = new Set<string>();
  const add = (path: string, v: string) => {
    let key = sanitizeKey(path);
    if (seen.has(key)) key = sanitizeKey(`${key.slice(0, MAX_KEY_LENGTH - 9)}-${shortHash(path)}`);
    seen.add(key);
    out.push({ key, value: truncateParamValue(v) });
  };
  const walk = (v: unknown, path: string) => {
    if (v === undefined || typeof v === 'function') return;
    if (Array.isArray(v)) {
      if (v.length === 0) add(path, '[]');
      v.forEach((item, i) => walk(item, path ? `${path}.${i}` : String(i)));
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length === 0) add(path, '{}');
      for (const [k, child] of entries) walk(child, path ? `${path}.${k}` : k);
    } else {
      add(path, scalarString(v));
    }
  };
  walk(value, prefix);
  return out;
}

export interface StandardTagInput {
  workflowId?: string;
  planHash?: string;
  /** Default: `git rev-parse HEAD` in the current folder, when it is a git work tree. */
  gitCommit?: string;
  /** Default: the version in alignrun's package.json. */
  alignrunVersion?: string;
}

export const TAGS = {
  workflowId: 'alignrun.workflow_id',
  planHash: 'alignrun.plan_hash',
  version: 'alignrun.version',
  // MLflow's own tag: the UI shows it as the run's source commit.
  gitCommit: 'mlflow.source.git.commit',
} as const;

export function gitCommit(cwd = process.cwd()): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return undefined;
  }
}

let cachedVersion: string | undefined;
export function alignrunVersion(): string {
  if (cachedVersion === undefined) {
    const pkg = JSON.parse(
      readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8'),
    );
    cachedVersion = String(pkg.version);
  }
  return cachedVersion;
}

/** The tags every alignrun run carries: workflow id, plan hash, git commit, alignrun version. */
export function standardTags(input: StandardTagInput = {}): KeyValue[] {
  const tags: KeyValue[] = [];
  if (input.workflowId) tags.push({ key: TAGS.workflowId, value: input.workflowId });
  if (input.planHash) tags.push({ key: TAGS.planHash, value: input.planHash });
  const commit = input.gitCommit ?? gitCommit();
  if (commit) tags.push({ key: TAGS.gitCommit, value: commit });
  tags.push({ key: TAGS.version, value: input.alignrunVersion ?? alignrunVersion() });
  return tags;
}
