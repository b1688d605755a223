// Process entry for a worker started in the background (`alignrun up`, tests): same as `alignrun worker`.
import { run } from '../cli/worker';

process.exitCode = await run(process.argv.slice(2));
