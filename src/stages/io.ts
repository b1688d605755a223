// What every stage implementation needs from the runtime: its working folder (kept across
// attempts so a retried attempt resumes), its inputs resolved to local files, JSON artifacts.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ArtifactRef } from '../artifacts/types';
import type { StageContext, StageInput } from '../runtime/stage';
import type { InputRef } from '../spec/plan';

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
 * A model input as a local SD-layout folder: a model from `models:` is used where it is; a
 * finetune/pretrain stage's output is materialised once under the state folder by content hash.
 */
export async function modelFolder(input: StageInput, ctx: StageContext, ref: InputRef): Promise<string> {
  if ('model' in ref) return input.models[ref.model].path;
  const art = upstreamArtifact(input, ref, 'model');
  const dir = join(ctx.stateDir, 'models', art.sha256);
  if (!existsSync(join(dir, 'model_index.json'))) {
    const tmp = `${dir}.tmp-${process.pid}`;
    await ctx.store.getDir(art, tmp);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  return dir;
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
