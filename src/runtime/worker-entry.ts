// Process entry for a worker started in the background (`alignrun up`): same as `alignrun worker`.
// Tests start theirs with test/helpers/worker-entry.ts, which adds the test stages.
import { run } from '../cli/worker';

process.exitCode = await run(process.argv.slice(2));
