// `alignrun compare ID|ID/TRIAL...`: swept values and metrics of runs and sweep trials, side by side.
import { CONNECTION_HELP, connectionFlags, connectionOptions, parse, runVerb } from '../runtime/cli';
import { compareColumns, renderComparison } from '../runtime/compare';
import { connectClient, resolveConnection } from '../runtime/connection';
import { UserError } from '../runtime/paths';

const HELP = `Usage: alignrun compare ID|ID/TRIAL... [--metric PATTERN]... [--diff] [--json] [connection flags]
A table with a column per run, or per trial of a sweep (a sweep's ID gives all its trials, ID/t3
one), and a row per swept value and per metric (stage.metric).
  --metric P   only metrics matching P (* matches anything, e.g. 'evaluate.alignment_*'); repeatable
  --diff       only the rows whose values differ
  --json       the columns as JSON
${CONNECTION_HELP}`;

export async function run(argv: string[]): Promise<number> {
  return runVerb(async () => {
    const { values, positionals } = parse('compare', argv, {
      ...connectionOptions,
      metric: { type: 'string', multiple: true },
      diff: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positionals.length === 0)
      throw new UserError('alignrun compare: name the runs to compare (ids from `alignrun status`).');
    const client = await connectClient(resolveConnection(connectionFlags(values)));
    try {
      const columns = await compareColumns(client, positionals);
      process.stdout.write(
        values.json
          ? `${JSON.stringify(columns, null, 2)}\n`
          : `${renderComparison(columns, { metrics: values.metric, onlyDifferent: values.diff })}\n`,
      );
      return 0;
    } finally {
      await client.connection.close();
    }
  });
}
