// Compiles a validated spec into a Plan: applies each sweep assignment, expands rounds, and turns
// every stage of every trial into a stage instance whose cache key hashes what determines its
// output. Trials that differ only downstream get identical upstream keys and share instances.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Diagnostic } from './diagnostics';
import { canonicalJson, contentHash, hashJson, sha256 } from './hash';
import {
  PLAN_VERSION,
  type InputRef,
  type Plan,
  type ResolvedModel,
  type StageInstance,
  type StageKind,
  type Trial,
} from './plan';
import { stageRefs } from './refs';
import { DEFAULT_QUEUE, DEFAULT_TIMEOUT, FILE_FIELDS, RUN_FIELDS, stageVersions } from './stages';
import { expandSweep, setPath } from './sweep';
import type { Experiment } from './types.gen';
import { validateSpec, type ValidatedSpec } from './validate';

export interface CompileOptions {
  /** State folder for the model-hash cache and the result cache (default: ALIGNRUN_STATE or .alignrun). */
  stateDir?: string;
  /** `PATH=VALUE` overrides of the spec (`--set`), validated like the file. */
  overrides?: string[];
  /** Code versions per stage kind (default: this checkout's, see src/spec/code-version.ts). */
  stageVersions?: Record<StageKind, string>;
}

export function defaultStateDir(): string {
  return resolve(process.env.ALIGNRUN_STATE ?? '.alignrun');
}

export async function compileFile(
  file: string,
  opts: CompileOptions = {},
): Promise<{ plan?: Plan; diagnostics: Diagnostic[] }> {
  const { result, diagnostics } = validateSpec(file, undefined, opts.overrides);
  if (!result) return { diagnostics };
  // Planning hashes model folders by content, so here a missing folder is an error.
  const missing = diagnostics.map((d) => ({ ...d, severity: undefined }));
  if (missing.length > 0) return { diagnostics: missing };
  return { plan: await compileSpec(result, opts), diagnostics: [] };
}

type StageSpec = Record<string, any> & { kind: StageKind };

export async function compileSpec(validated: ValidatedSpec, opts: CompileOptions = {}): Promise<Plan> {
  const { spec } = validated;
  const specFile = resolve(validated.source.file);
  const baseDir = dirname(specFile);
  const hashCache = join(opts.stateDir ?? defaultStateDir(), 'content-hashes.json');
  const versions = opts.stageVersions ?? stageVersions();

  // Plan-wide model entries. A trial whose sweep changes a model (e.g. models.base.path) gets an
  // entry of its own, keyed `name@<hash of its settings>`, so trials compare base models.
  const models: Record<string, ResolvedModel> = {};
  const resolveModels = async (defs: Experiment['models']): Promise<Record<string, ResolvedModel>> => {
    const out: Record<string, ResolvedModel> = {};
    for (const [name, m] of Object.entries(defs ?? {})) {
      const path = resolve(baseDir, m.path);
      const model: ResolvedModel = {
        name,
        path,
        contentHash: await contentHash(path, hashCache),
        providers: m.providers ?? ['cpu'],
        allowCpuFallback: m.allow_cpu_fallback ?? true,
      };
      const settings = canonicalJson(model);
      const key =
        !models[name] || canonicalJson(models[name]) === settings
          ? name
          : `${name}@${sha256(settings).slice(0, 8)}`;
      models[key] = model;
      out[name] = { ...model, name: key };
    }
    return out;
  };
  await resolveModels(spec.models);

  const instances: Record<string, StageInstance> = {};
  const order: string[] = [];
  const trials: Trial[] = [];
  const assignments = expandSweep(spec.sweep);
  for (let t = 0; t < assignments.length; t++) {
    const trialId = `t${t}`;
    const trialSpec = structuredClone(spec) as Experiment & Record<string, any>;
    for (const [path, value] of Object.entries(assignments[t])) setPath(trialSpec, path, value);
    const stages = expandRounds(trialSpec);
    const trialModels = await resolveModels(trialSpec.models);
    const keys: Record<string, string> = {};
    for (const name of topoOrder(stages)) {
      const inst = await buildInstance(
        name,
        stages[name],
        keys,
        trialSpec,
        trialModels,
        baseDir,
        hashCache,
        versions,
      );
      keys[name] = inst.key;
      const existing = instances[inst.key];
      if (existing) {
        if (!existing.trials.includes(trialId)) existing.trials.push(trialId);
      } else {
        inst.trials = [trialId];
        instances[inst.key] = inst;
        order.push(inst.key);
      }
    }
    trials.push({ id: trialId, assignment: assignments[t], stages: keys });
  }

  const sweep = spec.sweep
    ? {
        method: spec.sweep.trials ? ('list' as const) : (spec.sweep.method ?? 'grid'),
        maxParallel: spec.sweep.max_parallel ?? 4,
        objective: spec.sweep.objective
          ? { metric: spec.sweep.objective.metric, goal: spec.sweep.objective.goal ?? 'maximize' }
          : undefined,
        earlyStop: spec.sweep.early_stop
          ? {
              method: spec.sweep.early_stop.method,
              metric: spec.sweep.early_stop.metric,
              afterStep: spec.sweep.early_stop.after_step ?? 50,
              minTrials: spec.sweep.early_stop.min_trials ?? 3,
            }
          : undefined,
      }
    : undefined;
  const tracking = { experiment: spec.tracking?.experiment ?? spec.metadata.name, uri: spec.tracking?.uri };
  const planHash = hashJson({
    planVersion: PLAN_VERSION,
    experiment: spec.metadata.name,
    trials: trials.map((t) => t.stages),
    sweep,
    tracking,
  });
  return {
    planVersion: PLAN_VERSION,
    experiment: spec.metadata.name,
    specFile,
    planHash,
    tracking,
    models,
    instances,
    order,
    trials,
    sweep,
    resolvedSpec: JSON.parse(canonicalJson(spec)) as Record<string, unknown>,
  };
}

/**
 * Repeats `rounds.stages` count times. Round r > 1 copies are named `stage@r`; inside a copy,
 * references to stages of the block point at the same round, and model references that leave the
 * block point at the previous round's `model_from`. Stages outside the block see the last round.
 */
export function expandRounds(spec: Experiment): Record<string, StageSpec> {
  const stages = structuredClone(spec.stages) as Record<string, StageSpec>;
  const r = spec.rounds;
  if (!r || r.count <= 1) return stages;
  const block = new Set(r.stages);
  const nameIn = (s: string, round: number) => (round === 1 ? s : `${s}@${round}`);
  const out: Record<string, StageSpec> = {};
  for (const [name, s] of Object.entries(stages)) if (!block.has(name)) out[name] = s;
  for (let round = 1; round <= r.count; round++) {
    for (const name of r.stages) {
      const copy = structuredClone(stages[name]);
      for (const use of stageRefs(copy.kind, copy)) {
        let to: string | undefined;
        if (block.has(use.name)) to = nameIn(use.name, round);
        else if (use.field.target === 'model' && round > 1) to = nameIn(r.model_from, round - 1);
        if (to !== undefined) setIn(copy, use.path, to);
      }
      out[nameIn(name, round)] = copy;
    }
  }
  for (const name of Object.keys(stages)) {
    if (block.has(name)) continue;
    for (const use of stageRefs(out[name].kind, out[name])) {
      if (block.has(use.name)) setIn(out[name], use.path, nameIn(use.name, r.count));
    }
  }
  return out;
}

function setIn(obj: Record<string, any>, path: (string | number)[], value: unknown) {
  let o: any = obj;
  for (const p of path.slice(0, -1)) o = o[p];
  o[path[path.length - 1]] = value;
}

/** Stage names with dependencies first; ties broken by spec order, so plans are stable. */
function topoOrder(stages: Record<string, StageSpec>): string[] {
  const done = new Set<string>();
  const out: string[] = [];
  const visit = (n: string) => {
    if (done.has(n)) return;
    done.add(n);
    for (const use of stageRefs(stages[n].kind, stages[n])) if (use.name in stages) visit(use.name);
    out.push(n);
  };
  for (const n of Object.keys(stages)) visit(n);
  return out;
}

function deriveSeed(base: number, stage: string): number {
  return parseInt(sha256(`${base}:${stage}`).slice(0, 8), 16);
}

function parseRetries(r: Record<string, any> | undefined) {
  return {
    maximumAttempts: r?.maximum_attempts ?? 3,
    initialInterval: r?.initial_interval ?? '1s',
    backoffCoefficient: r?.backoff_coefficient ?? 2,
    maximumInterval: r?.maximum_interval ?? '5m',
  };
}

async function buildInstance(
  name: string,
  stage: StageSpec,
  keys: Record<string, string>,
  spec: Experiment,
  models: Record<string, ResolvedModel>,
  baseDir: string,
  hashCache: string,
  versions: Record<StageKind, string>,
): Promise<StageInstance> {
  const params: Record<string, any> = structuredClone(stage);
  for (const f of RUN_FIELDS) delete params[f];
  const inputs: Record<string, InputRef | InputRef[]> = {};
  for (const use of stageRefs(stage.kind, stage)) {
    const ref: InputRef =
      use.name in keys
        ? { stage: use.name, key: keys[use.name] }
        : { model: models[use.name].name, contentHash: models[use.name].contentHash };
    const field = use.field.path.join('.');
    if (use.field.list) ((inputs[field] ??= []) as InputRef[]).push(ref);
    else inputs[field] = ref;
  }
  for (const field of Object.keys(inputs)) {
    const path = field.split('.');
    let o = params;
    for (const p of path.slice(0, -1)) o = o[p];
    delete o[path[path.length - 1]];
  }
  const files: Record<string, string> = {};
  for (const path of FILE_FIELDS[stage.kind] ?? []) {
    let o: any = params;
    for (const p of path.slice(0, -1)) o = o?.[p];
    const rel = o?.[path[path.length - 1]];
    if (typeof rel !== 'string') continue;
    const abs = resolve(baseDir, rel);
    o[path[path.length - 1]] = abs;
    if (existsSync(abs)) files[path.join('.')] = await contentHash(abs, hashCache);
  }
  params.seed = stage.seed ?? deriveSeed(spec.metadata.seed ?? 0, name);
  const version = versions[stage.kind];
  // Upstream identity is the upstream key or model content, never a stage's name.
  const upstream = Object.fromEntries(
    Object.entries(inputs).map(([f, r]) => [
      f,
      ([] as InputRef[]).concat(r).map((x) => ('key' in x ? x.key : x.contentHash)),
    ]),
  );
  const key = hashJson({ kind: stage.kind, version, params, upstream, files });
  return {
    key,
    stage: name,
    kind: stage.kind,
    version,
    queue: stage.queue ?? DEFAULT_QUEUE[stage.kind],
    params,
    inputs,
    deps: [
      ...new Set(
        Object.values(inputs)
          .flat()
          .flatMap((r) => ('key' in r ? [r.key] : [])),
      ),
    ].sort(),
    retry: parseRetries(stage.retries),
    timeouts: {
      startToClose: stage.timeout ?? DEFAULT_TIMEOUT[stage.kind],
      heartbeat: stage.heartbeat_timeout ?? '10s',
    },
    trials: [],
  };
}
