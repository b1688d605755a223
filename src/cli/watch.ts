// `alignrun watch ID`: live per-stage progress bars until the run closes.
import { CONNECTION_HELP, runIdVerb } from '../runtime/cli';
import { followRun } from '../runtime/follow';

const HELP = `Usage: alignrun watch ID [connection flags]
Redraws each stage's state and progress every second until the run ends; exits 0 if it completed.
${CONNECTION_HELP}`;

export function run(argv: string[]): Promise<number> {
  return runIdVerb('watch', argv, HELP, (client, id) => followRun(client, id));
}
