// `alignrun down`: stops the background worker (gracefully) and the local Temporal dev server.
import { parse, runVerb } from '../runtime/cli';
import { stopWorkerProcess } from '../runtime/background';
import { stopDevServer } from '../runtime/devserver';
import { stateDir } from '../runtime/paths';

export async function run(argv: string[]): Promise<number> {
  return runVerb(async () => {
    const { values } = parse('down', argv, {
      state: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(
        'Usage: alignrun down [--state DIR]\nStops the worker and Temporal dev server `alignrun up` started; the data stays.\n',
      );
      return 0;
    }
    const state = stateDir(values.state);
    const worker = await stopWorkerProcess(state);
    const server = await stopDevServer(state);
    process.stdout.write(
      `Worker: ${worker ? 'stopped' : 'not running'}. Temporal: ${server ? 'stopped' : 'not running'}.\n`,
    );
    return 0;
  });
}
