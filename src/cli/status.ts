// `alignrun status [ID]`: the runs on the server, or one run's stages and live progress.
import { CONNECTION_HELP, connectionFlags, connectionOptions, parse, runVerb } from '../runtime/cli';
import { connectClient, resolveConnection } from '../runtime/connection';
import { renderRun, renderRuns } from '../runtime/render';
import { listRuns, viewRun } from '../runtime/runs';

const HELP = `Usage: alignrun status [ID] [--experiment NAME] [connection flags]
Without ID: a table of runs (newest first). With ID: each stage's state, attempt and progress.
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
