// `alignrun resume ID`: runs a failed or cancelled run again; finished stages come from the cache.
import { CONNECTION_HELP, runIdVerb } from '../runtime/cli';
import { followRun } from '../runtime/follow';
import { resumeRun } from '../runtime/runs';

const HELP = `Usage: alignrun resume ID [--wait] [connection flags]
Starts a new run under the same ID with the same plan; every finished stage is reused from the
cache, so work continues from the first unfinished stage.
  --wait   follow the run until it ends
${CONNECTION_HELP}`;

export function run(argv: string[]): Promise<number> {
  return runIdVerb(
    'resume',
    argv,
    HELP,
    async (client, id, wait) => {
      const { runId } = await resumeRun(client, id);
      process.stdout.write(`Resumed ${id} (run ${runId}); finished stages come from the cache.\n`);
      return wait ? await followRun(client, id) : 0;
    },
    { wait: true },
  );
}
