// `alignrun cancel ID`: cancels a run; its running stages stop at their next heartbeat.
import { CONNECTION_HELP, connectionFlags, connectionOptions, parse, runVerb } from '../runtime/cli';
import { connectClient, resolveConnection } from '../runtime/connection';
import { UserError } from '../runtime/paths';
import { cancelRun } from '../runtime/runs';

const HELP = `Usage: alignrun cancel ID [--wait] [connection flags]
Requests cancellation; running stages stop within their heartbeat timeout. \`alignrun resume ID\`
continues the run later from its first unfinished stage.
  --wait   return once the run has closed
${CONNECTION_HELP}`;

export async function run(argv: string[]): Promise<number> {
  return runVerb(async () => {
    const { values, positionals } = parse('cancel', argv, {
      ...connectionOptions,
      wait: { type: 'boolean' },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const id = positionals[0];
    if (!id) throw new UserError('alignrun cancel: give the run ID to cancel (see `alignrun status`).');
    const client = await connectClient(resolveConnection(connectionFlags(values)));
    try {
      await cancelRun(client, id);
      process.stdout.write(
        `Cancellation requested for ${id}; running stages stop at their next heartbeat.\n`,
      );
      if (values.wait) {
        await client.workflow
          .getHandle(id)
          .result()
          .catch(() => undefined);
        process.stdout.write(`${id} is closed.\n`);
      }
      return 0;
    } finally {
      await client.connection.close();
    }
  });
}
