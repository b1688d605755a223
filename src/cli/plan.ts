// `alignrun plan FILE [--json]`: what runs, what is cached, and what trials share.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { compileFile, defaultStateDir } from '../spec/compile';
import { SET_HELP, splitOverrides } from './overrides';
import { formatDiagnostic } from '../spec/diagnostics';
import type { InputRef, Plan, StageInstance } from '../spec/plan';
import { table } from '../util/table';

export async function run(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const { files, overrides } = splitOverrides(argv);
  if (argv.includes('--help') || files.length !== 1) {
    console.log(
      `usage: alignrun plan FILE [--json] [--set PATH=VALUE]...\n\nCompiles the spec and prints its stage DAG, code versions, trial count, shared stage instances and cache state.\n${SET_HELP}`,
    );
    return argv.includes('--help') ? 0 : 2;
  }
  const file = relative(process.cwd(), files[0]) || files[0];
  const stateDir = defaultStateDir();
  const { plan, diagnostics } = await compileFile(file, { stateDir, overrides });
  if (!plan) {
    for (const d of diagnostics) console.error(formatDiagnostic(d));
    return 1;
  }
  if (json) {
    console.log(JSON.stringify(plan, null, 2));
    return 0;
  }
  console.log(describePlan(plan, stateDir));
  return 0;
}

/** Finished-stage record written by the runtime when a stage instance completes. */
function cachedAt(stateDir: string, key: string): string | undefined {
  const f = join(stateDir, 'cache', `${key}.json`);
  if (!existsSync(f)) return undefined;
  try {
    return (JSON.parse(readFileSync(f, 'utf8')) as { finishedAt?: string }).finishedAt ?? 'yes';
  } catch {
    return undefined;
  }
}

function describeInput(r: InputRef): string {
  return 'stage' in r ? r.stage : `model ${r.model}`;
}

export function describePlan(plan: Plan, stateDir: string): string {
  const n = plan.trials.length;
  const insts = plan.order.map((k) => plan.instances[k]);
  const cached = insts.filter((i) => cachedAt(stateDir, i.key)).length;
  const out: string[] = [];
  out.push(
    `experiment ${plan.experiment}  plan ${plan.planHash.slice(0, 12)}  ` +
      `${n} trial${n === 1 ? '' : 's'}, ${insts.length} stage instance${insts.length === 1 ? '' : 's'}, ` +
      `${cached} cached, ${insts.length - cached} to run`,
  );
  out.push('');
  const rows = insts.map((i: StageInstance) => {
    const at = cachedAt(stateDir, i.key);
    const needs = Object.values(i.inputs).flat().map(describeInput);
    return [
      i.stage,
      i.kind,
      i.queue,
      i.version,
      i.key.slice(0, 12),
      at ? 'cached' : 'will run',
      n > 1
        ? i.trials.length === n
          ? 'all'
          : i.trials.length > 1
            ? `${i.trials.length} trials`
            : i.trials[0]
        : '',
      needs.length ? needs.join(', ') : '-',
    ];
  });
  const header = ['stage', 'kind', 'queue', 'code', 'key', 'state', n > 1 ? 'trials' : '', 'needs'];
  out.push(table(n > 1 ? [header, ...rows] : [header, ...rows].map((r) => r.filter((_, c) => c !== 6))));
  if (n > 1) {
    const shared = insts.filter((i) => i.trials.length > 1);
    out.push('');
    out.push(
      `shared between trials: ${shared.length ? shared.map((i) => `${i.stage} (${i.trials.length})`).join(', ') : 'none'}`,
    );
    out.push('');
    out.push(
      table([
        ['trial', 'assignment'],
        ...plan.trials.map((t) => [
          t.id,
          Object.entries(t.assignment)
            .map(([k, v]) => `${k}=${fmt(v)}`)
            .join('  '),
        ]),
      ]),
    );
    if (plan.sweep)
      out.push(
        '',
        `sweep: ${plan.sweep.method}, at most ${plan.sweep.maxParallel} trial(s) at once${plan.sweep.objective ? `, ${plan.sweep.objective.goal} ${plan.sweep.objective.metric}` : ''}`,
      );
  }
  return out.join('\n');
}

function fmt(v: unknown): string {
  return typeof v === 'number' && !Number.isInteger(v) ? String(Number(v.toPrecision(4))) : JSON.stringify(v);
}
