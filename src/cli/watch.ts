// `alignrun watch ID`: live per-stage progress bars until the run closes.
import { CONNECTION_HELP, connectionFlags, connectionOptions, parse, runVerb } from '../runtime/cli';
import { connectClient, resolveConnection } from '../runtime/connection';
import { followRun } from '../runtime/follow';
import { UserError } from '../runtime/paths';

const HELP = `Usage: alignrun watch ID [connection flags]
Redraws each stage's state and progress every second until the run ends; exits 0 if it completed.
${CONNECTION_HELP}`;

export async function run(argv: string[]): Promise<number> {
  return runVerb(async () => {
    const { values, positionals } = parse('watch', argv, connectionOptions);
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (!positionals[0])
      throw new UserError('alignrun watch: give the run ID to watch (see `alignrun status`).');
    const client = await connectClient(resolveConnection(connectionFlags(values)));
    try {
      return await followRun(client, positionals[0]);
    } finally {
      await client.connection.close();
    }
  });
}
