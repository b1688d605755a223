// Process entry for a test's worker in its own process (test/workflows/worker-process.ts): the
// real `alignrun worker` code, serving the test stages as well as the spec's.
import { run } from '../../src/cli/worker';
import { testStages } from './stages/index';

process.exitCode = await run(process.argv.slice(2), testStages);
