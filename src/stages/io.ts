// What every stage implementation needs from the runtime: its working folder (kept across
// attempts so a retried attempt resumes), its inputs resolved to local files, JSON artifacts.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ArtifactRef } from '../artifacts/types';
import type { StageContext, StageInput } from '../runtime/stage';
import type { InputRef } from '../spec/plan';

/**
 * A stage's params as the plan holds them: the spec's own type (generated from the schema) with the
 * fields the schema gives defaults, `K`, always present (the compiler fills them in), and `seed`
 * (derived from metadata.seed when the spec has none). The defaults themselves live only in the schema.
 */
export type PlannedParams<T, K extends keyof T = never> = Omit<T, K | 'kind' | 'seed'> &
  Required<Pick<T, K>> & { seed: number };

/** A folder private to this stage instance, stable across attempts and worker restarts. */
export function workDir(input: StageInput, ctx: StageContext): string {
  const dir = join(ctx.stateDir, 'work', input.instance.key);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function inputRef(input: StageInput, field: string): InputRef {
  const ref = input.instance.inputs[field];
  if (!ref || Array.isArray(ref))
    throw new Error(`stage ${input.instance.stage} has no single input '${field}'`);
  return ref;
}

/** The artifact an upstream stage produced under `name`. */
export function upstreamArtifact(input: StageInput, ref: InputRef, name: string): ArtifactRef {
  if (!('key' in ref)) throw new Error(`input of ${input.instance.stage} is a model, not a stage`);
  const result = input.upstream[ref.key];
  const art = result?.artifacts[name];
  if (!art) throw new Error(`upstream stage ${ref.stage} did not produce '${name}'`);
  return art;
}

export async function readJsonArtifact<T>(ctx: StageContext, ref: ArtifactRef): Promise<T> {
  return JSON.parse((await ctx.store.get(ref)).toString('utf8')) as T;
}

export async function readJsonlArtifact<T>(ctx: StageContext, ref: ArtifactRef): Promise<T[]> {
  return (await ctx.store.get(ref))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

export function putJson(ctx: StageContext, value: unknown) {
  return ctx.store.put(JSON.stringify(value, null, 1), { mediaType: 'application/json' });
}

/**
 * A `putDir` artifact as a local folder at `dir`, written once and atomically (temp + rename);
 * `marker` is a file every complete copy has, so a half-written copy is never taken for one.
 */
export async function materialiseDir(
  ctx: StageContext,
  ref: ArtifactRef,
  dir: string,
  marker: string,
): Promise<string> {
  if (!existsSync(join(dir, marker))) {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    await ctx.store.getDir(ref, tmp);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  return dir;
}

/** A shared read-only copy of a folder artifact under the state folder, by content hash. */
export function sharedDir(ctx: StageContext, ref: ArtifactRef, marker: string): Promise<string> {
  return materialiseDir(ctx, ref, join(ctx.stateDir, 'dirs', ref.sha256), marker);
}

/**
 * A model input as a local SD-layout folder: a model from `models:` is used where it is; a
 * finetune/pretrain stage's output is materialised once under the state folder by content hash.
 */
export async function modelFolder(input: StageInput, ctx: StageContext, ref: InputRef): Promise<string> {
  if ('model' in ref) return input.models[ref.model].path;
  return sharedDir(ctx, upstreamArtifact(input, ref, 'model'), 'model_index.json');
}

/** Execution provider settings for a model input (stage outputs inherit the experiment's first model's). */
export function providerFor(
  input: StageInput,
  ref: InputRef,
): { provider: 'cpu' | 'webgpu' | 'cuda'; allowCpuFallback: boolean } {
  const m = 'model' in ref ? input.models[ref.model] : Object.values(input.models)[0];
  return {
    provider: (m?.providers[0] ?? 'cpu') as 'cpu' | 'webgpu' | 'cuda',
    allowCpuFallback: m?.allowCpuFallback ?? true,
  };
}
