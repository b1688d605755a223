// `alignrun resume ID`: runs a failed or cancelled run again; finished stages come from the cache.
import { CONNECTION_HELP, connectionFlags, connectionOptions, parse, runVerb } from '../runtime/cli';
import { connectClient, resolveConnection } from '../runtime/connection';
import { followRun } from '../runtime/follow';
import { UserError } from '../runtime/paths';
import { resumeRun } from '../runtime/runs';

const HELP = `Usage: alignrun resume ID [--wait] [connection flags]
Starts a new run under the same ID with the same plan; every finished stage is reused from the
cache, so work continues from the first unfinished stage.
  --wait   follow the run until it ends
${CONNECTION_HELP}`;

export async function run(argv: string[]): Promise<number> {
  return runVerb(async () => {
    const { values, positionals } = parse('resume', argv, {
      ...connectionOptions,
      wait: { type: 'boolean' },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const id = positionals[0];
    if (!id) throw new UserError('alignrun resume: give the run ID to resume (see `alignrun status`).');
    const client = await connectClient(resolveConnection(connectionFlags(values)));
    try {
      const { runId } = await resumeRun(client, id);
      process.stdout.write(`Resumed ${id} (run ${runId}); finished stages come from the cache.\n`);
      return values.wait ? await followRun(client, id) : 0;
    } finally {
      await client.connection.close();
    }
  });
}
