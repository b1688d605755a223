// `alignrun quickstart`: the whole method on the tiny model with simulated raters. Brings the
// local stack up (Temporal, MLflow, labelling page, workers), submits experiments/quickstart.yaml,
// follows it stage by stage, then prints what changed: alignment per category before and after
// fine-tuning, the reward model's accuracy, fidelity, and where to look next.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectClient, resolveConnection } from '../runtime/connection';
import { readDevServer } from '../runtime/devserver';
import { followRun } from '../runtime/follow';
import { stateDir } from '../runtime/paths';
import { submitPlan } from '../runtime/runs';
import { compileFile } from '../spec/compile';
import { formatDiagnostic } from '../spec/diagnostics';
import { recordedLocalMlflowUrl } from '../tracking/run-tracking';
import type { TrialResult } from '../runtime/protocol';
import { table } from '../util/table';
import { run as up } from './up';

const SPEC = fileURLToPath(new URL('../../experiments/quickstart.yaml', import.meta.url));
const CATEGORIES = ['color', 'count', 'background', 'combination'];

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help')) {
    console.log(
      'usage: alignrun quickstart\n\nRuns experiments/quickstart.yaml end to end on the local stack and prints a summary.',
    );
    return 0;
  }
  const started = Date.now();
  const spec = path.relative(process.cwd(), SPEC);
  console.log(`alignrun quickstart: ${spec} (the tiny shapes model, simulated raters)\n`);
  const upCode = await up([]);
  if (upCode !== 0) return upCode;
  const state = stateDir();
  const { plan, diagnostics } = await compileFile(spec, { stateDir: state });
  for (const d of diagnostics) console.error(formatDiagnostic(d));
  if (!plan) return 1;
  const client = await connectClient(resolveConnection({}));
  try {
    const s = await submitPlan(client, plan);
    console.log(
      `\n${s.workflowId}: ${s.completed ? 'already completed (cached)' : s.existing ? 'attached' : 'started'}\n`,
    );
    const code = s.completed ? 0 : await followRun(client, s.workflowId);
    if (code !== 0) {
      console.error(
        `\nThe run did not complete; see \`alignrun status ${s.workflowId}\`, fix the cause, then \`alignrun resume ${s.workflowId}\`.`,
      );
      return code;
    }
    const result = (await client.workflow.getHandle(s.workflowId).result()) as TrialResult;
    const baseModel = plan.models.base?.path;
    console.log('\n' + summary(result, baseModel ? path.relative(process.cwd(), baseModel) : undefined));
    const dev = readDevServer(state);
    const labelUrl = readOptional(path.join(state, 'label-server.url'));
    console.log('');
    if (dev) console.log(`Temporal UI:    ${dev.uiUrl}/namespaces/default/workflows/${s.workflowId}`);
    const mlflow = recordedLocalMlflowUrl(state);
    if (mlflow) console.log(`MLflow:         ${mlflow} (experiment '${plan.tracking.experiment}')`);
    if (labelUrl) console.log(`Labelling page: ${labelUrl} (for human raters: alignrun raters add NAME)`);
    console.log(
      `\nDone in ${Math.round((Date.now() - started) / 1000)} s. Stop the stack with \`alignrun down\`.`,
    );
    return 0;
  } finally {
    await client.connection.close();
  }
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** A cell formatter that prints a dash for a metric the run did not report. */
const orDash =
  (format: (v: number) => string) =>
  (v: number | undefined): string =>
    v === undefined ? '-' : format(v);
const pct = orDash((v) => `${(100 * v).toFixed(1)}%`);

/** The before/after table the quickstart ends with, from the trial's stage metrics. */
export function summary(result: TrialResult, baseModel = "the spec's base model"): string {
  const e = result.stages.evaluate?.metrics ?? {};
  const r = result.stages.reward?.metrics ?? {};
  const [base, tuned] = ['base', 'finetune'];
  const rows: string[][] = [['', 'seen: base', 'seen: tuned', 'unseen: base', 'unseen: tuned']];
  const row = (label: string, key: (m: string, s: string) => string, format = pct) =>
    rows.push([
      label,
      format(e[key(base, 'seen')]),
      format(e[key(tuned, 'seen')]),
      format(e[key(base, 'unseen')]),
      format(e[key(tuned, 'unseen')]),
    ]);
  for (const c of CATEGORIES) row(`alignment: ${c}`, (m, s) => `${m}.${s}.alignment.${c}`);
  row('alignment: all', (m, s) => `${m}.${s}.alignment`);
  row('well-formed (fidelity)', (m, s) => `${m}.${s}.well_formed`);
  // The other fidelity measure: Fréchet distance of image statistics to rendered images (lower is closer).
  row(
    'distance to rendered',
    (m, s) => `${m}.${s}.frechet`,
    orDash((v) => v.toFixed(4)),
  );
  const gain = (s: string) => orDash((v) => `${v.toFixed(2)}x`)(e[`alignment_gain_${s}`]);
  return [
    `Alignment judged on fixed prompts and seeds (base = ${baseModel}, tuned = after reward-weighted fine-tuning):`,
    table(rows),
    '',
    `alignment gain: seen ${gain('seen')}, unseen ${gain('unseen')}`,
    `reward model: held-out accuracy ${pct(r.accuracy)}${r.auc !== undefined ? `, AUC ${r.auc.toFixed(3)}` : ''}` +
      `${r.accuracy_split_unseen !== undefined ? `, unseen prompts ${pct(r.accuracy_split_unseen)}` : ''}`,
  ].join('\n');
}
