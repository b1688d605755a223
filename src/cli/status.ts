// `alignrun status [ID]`: the runs on the server, or one run's stages and live progress.
import { CONNECTION_HELP, connectionFlags, connectionOptions, parse, runVerb } from '../runtime/cli';
import { connectClient, resolveConnection } from '../runtime/connection';
import { renderRun, renderRuns } from '../runtime/render';
import { stateDir } from '../runtime/paths';
import { listRuns, viewRun } from '../runtime/runs';
import { pendingTrackingWarnings } from '../tracking/run-tracking';

const HELP = `Usage: alignrun status [ID] [--experiment NAME] [connection flags]
Without ID: a table of runs (newest first). With ID: each stage's state, attempt and progress.
Warns when tracking calls are waiting in the state folder's outbox for an MLflow server.
${CONNECTION_HELP}`;

export async function run(argv: string[]): Promise<number> {
  return runVerb(async () => {
    const { values, positionals } = parse('status', argv, {
      ...connectionOptions,
      experiment: { type: 'string' },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    for (const line of pendingTrackingWarnings(stateDir(values.state)))
      process.stdout.write(`Warning: ${line}.\n`);
    const client = await connectClient(resolveConnection(connectionFlags(values)));
    try {
      if (positionals[0]) process.stdout.write(renderRun(await viewRun(client, positionals[0])) + '\n');
      else process.stdout.write(renderRuns(await listRuns(client, { experiment: values.experiment })) + '\n');
      return 0;
    } finally {
      await client.connection.close();
    }
  });
}
