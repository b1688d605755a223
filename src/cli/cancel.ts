// `alignrun cancel ID`: cancels a run; its running stages stop at their next heartbeat.
import { CONNECTION_HELP, runIdVerb } from '../runtime/cli';
import { cancelRun } from '../runtime/runs';

const HELP = `Usage: alignrun cancel ID [--wait] [connection flags]
Requests cancellation; running stages stop within their heartbeat timeout. \`alignrun resume ID\`
continues the run later from its first unfinished stage.
  --wait   return once the run has closed
${CONNECTION_HELP}`;

export function run(argv: string[]): Promise<number> {
  return runIdVerb(
    'cancel',
    argv,
    HELP,
    async (client, id, wait) => {
      await cancelRun(client, id);
      process.stdout.write(
        `Cancellation requested for ${id}; running stages stop at their next heartbeat.\n`,
      );
      if (wait) {
        await client.workflow
          .getHandle(id)
          .result()
          .catch(() => undefined);
        process.stdout.write(`${id} is closed.\n`);
      }
      return 0;
    },
    { wait: true },
  );
}
