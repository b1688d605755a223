// `alignrun submit FILE`: compiles the spec and starts its run (or finds the run already there).
import { compileFile } from '../spec/compile';
import { formatDiagnostic } from '../spec/diagnostics';
import { CONNECTION_HELP, connectionFlags, connectionOptions, parse, runVerb } from '../runtime/cli';
import { connectClient, resolveConnection } from '../runtime/connection';
import { readDevServer } from '../runtime/devserver';
import { followRun } from '../runtime/follow';
import { stateDir, UserError } from '../runtime/paths';
import { submitPlan } from '../runtime/runs';
import { SET_HELP } from './overrides';

const HELP = `Usage: alignrun submit FILE [--wait] [--set PATH=VALUE]... [connection flags]
Compiles FILE and starts it as a workflow whose ID derives from the plan hash: submitting the same
plan again attaches to its run; after a failure or cancellation it starts again from the cache.
  --wait   follow the run until it ends (exit 0 if it completed)
${SET_HELP}
${CONNECTION_HELP}`;

export async function run(argv: string[]): Promise<number> {
  return runVerb(async () => {
    const { values, positionals } = parse('submit', argv, {
      ...connectionOptions,
      wait: { type: 'boolean' },
      set: { type: 'string', multiple: true },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const file = positionals[0];
    if (!file)
      throw new UserError(
        'alignrun submit: give the experiment spec to run, e.g. `alignrun submit experiments/quickstart.yaml`.',
      );
    const state = stateDir(values.state);
    const { plan, diagnostics } = await compileFile(file, { stateDir: state, overrides: values.set });
    for (const d of diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
    if (!plan) return 1;
    const cfg = resolveConnection(connectionFlags(values));
    const client = await connectClient(cfg);
    try {
      const s = await submitPlan(client, plan);
      const what = s.completed
        ? 'already completed'
        : s.existing
          ? 'already running; attached'
          : s.restarted
            ? 'started again (the last run did not finish; finished stages come from the cache)'
            : 'started';
      process.stdout.write(
        `${s.workflowId}: ${what} (${s.type}, ${plan.trials.length} trial(s), ${plan.order.length} stage(s))\n`,
      );
      const dev = cfg.source === 'dev-server' ? readDevServer(state) : undefined;
      if (dev)
        process.stdout.write(`UI: ${dev.uiUrl}/namespaces/${cfg.namespace}/workflows/${s.workflowId}\n`);
      if (s.completed) process.stdout.write(`See \`alignrun status ${s.workflowId}\` for its results.\n`);
      return values.wait && !s.completed ? await followRun(client, s.workflowId) : 0;
    } finally {
      await client.connection.close();
    }
  });
}
