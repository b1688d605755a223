// `alignrun down`: stops the background worker (gracefully) and the local Temporal dev server.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parse, runVerb } from '../runtime/cli';
import { stopLabelServerProcess, stopWorkerProcess } from '../runtime/background';
import { stopDevServer } from '../runtime/devserver';
import { stateDir } from '../runtime/paths';
import { localMlflowDir } from '../tracking/run-tracking';
import { stopMlflowServer } from '../tracking/server';

export async function run(argv: string[]): Promise<number> {
  return runVerb(async () => {
    const { values } = parse('down', argv, {
      state: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(
        'Usage: alignrun down [--state DIR]\nStops the worker, Temporal dev server and MLflow server `alignrun up` started; the data stays.\n',
      );
      return 0;
    }
    const state = stateDir(values.state);
    const worker = await stopWorkerProcess(state);
    const server = await stopDevServer(state);
    const labels = await stopLabelServerProcess(state);
    // After the worker, so that it could hand its last tracking calls over on the way out.
    const mlflow = existsSync(path.join(localMlflowDir(state), 'mlflow.pid'));
    await stopMlflowServer(localMlflowDir(state));
    process.stdout.write(
      `Worker: ${worker ? 'stopped' : 'not running'}. Temporal: ${server ? 'stopped' : 'not running'}. ` +
        `MLflow: ${mlflow ? 'stopped' : 'not running'}. Label server: ${labels ? 'stopped' : 'not running'}.\n`,
    );
    return 0;
  });
}
