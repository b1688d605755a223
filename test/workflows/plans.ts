// Hand-built plans for orchestration tests: stage lists per trial, keys hashed like the compiler's
// (kind, params, upstream keys), so stages equal across trials become one shared instance.
import { createHash } from 'node:crypto';
import type { Plan, StageInstance, StageKind, SweepPlan, TestStageKind } from '../../src/spec/plan';

export interface StageSpec {
  name: string;
  kind: TestStageKind | StageKind;
  deps?: string[];
  params?: Record<string, unknown>;
  queue?: 'cpu' | 'gpu';
  heartbeat?: string;
  maximumAttempts?: number;
}

export function buildPlan(
  experiment: string,
  trials: StageSpec[][],
  opts: { salt?: string; sweep?: Partial<SweepPlan> } = {},
): Plan {
  const instances: Record<string, StageInstance> = {};
  const order: string[] = [];
  const planTrials: Plan['trials'] = [];
  trials.forEach((stages, i) => {
    const id = `t${i}`;
    const keys: Record<string, string> = {};
    for (const s of stages) {
      const deps = (s.deps ?? []).map((d) => {
        if (!keys[d]) throw new Error(`stage ${s.name} depends on ${d}, which comes later or is missing`);
        return keys[d];
      });
      const key = sha([opts.salt ?? '', s.kind, s.name, s.params ?? {}, s.queue ?? 'cpu', deps]);
      keys[s.name] = key;
      if (!instances[key]) {
        order.push(key);
        instances[key] = {
          key,
          stage: s.name,
          kind: s.kind,
          version: '1',
          queue: s.queue ?? 'cpu',
          params: s.params ?? {},
          inputs: Object.fromEntries(deps.map((k, j) => [s.deps![j], { stage: s.deps![j], key: k }])),
          deps: [...deps].sort(),
          retry: {
            maximumAttempts: s.maximumAttempts ?? 3,
            initialInterval: '100ms',
            backoffCoefficient: 2,
            maximumInterval: '1s',
          },
          timeouts: { startToClose: '5m', heartbeat: s.heartbeat ?? '10s' },
          trials: [],
        };
      }
      instances[key].trials.push(id);
    }
    planTrials.push({ id, assignment: { i }, stages: keys });
  });
  const planHash = sha([order, planTrials.map((t) => t.stages)]);
  return {
    planVersion: 1,
    experiment,
    specFile: `/tmp/${experiment}.yaml`,
    planHash,
    tracking: { experiment },
    models: {},
    instances,
    order,
    trials: planTrials,
    ...(trials.length > 1 ? { sweep: { method: 'grid', maxParallel: trials.length, ...opts.sweep } } : {}),
    resolvedSpec: {},
  };
}

const sha = (v: unknown) => createHash('sha256').update(JSON.stringify(v)).digest('hex');
