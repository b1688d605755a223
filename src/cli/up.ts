// `alignrun up`: the local Temporal dev server (UI on) and a background worker; idempotent.
import { parse, runVerb } from '../runtime/cli';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_LABEL_PORT } from '../labels/cli';
import {
  runningLabelServer,
  runningWorker,
  startLabelServerProcess,
  startWorkerProcess,
  workerLog,
} from '../runtime/background';
import { startDevServer } from '../runtime/devserver';
import { stateDir, UserError } from '../runtime/paths';
import { startMlflowServer } from '../tracking/server';
import { localMlflowDir, recordedLocalMlflowUrl, recordLocalMlflowUrl } from '../tracking/run-tracking';

const HELP = `Usage: alignrun up [--port 7233] [--ui-port 8233] [--mlflow-port P] [--no-mlflow] [--devices N]
                  [--label-port 8470] [--no-label-server] [--no-workers] [--state DIR]
Starts the local Temporal dev server and MLflow tracking server (both persisted in the state
folder), the labelling page, and a worker serving the cpu and gpu queues, all in the background.
Running it again reuses what is already up. MLflow keeps the port it got first, so runs tracked
while it was down reach it.
`;

export async function run(argv: string[]): Promise<number> {
  return runVerb(async () => {
    const { values } = parse('up', argv, {
      port: { type: 'string' },
      'ui-port': { type: 'string' },
      devices: { type: 'string' },
      'no-workers': { type: 'boolean' },
      'mlflow-port': { type: 'string' },
      'no-mlflow': { type: 'boolean' },
      'label-port': { type: 'string' },
      'no-label-server': { type: 'boolean' },
      state: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const num = (v: string | undefined, what: string) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0)
        throw new UserError(`alignrun up: ${what} must be a positive whole number, not "${v}".`);
      return n;
    };
    const state = stateDir(values.state);
    const server = await startDevServer({
      stateDir: state,
      port: num(values.port, '--port'),
      uiPort: num(values['ui-port'], '--ui-port'),
    });
    process.stdout.write(`Temporal: ${server.address} (pid ${server.pid}, data ${server.dbFile})\n`);
    process.stdout.write(`Temporal UI: ${server.uiUrl}\n`);
    if (!values['no-mlflow']) {
      // Before the worker, which reads the recorded URL when a spec names no tracking URI.
      const recorded = recordedLocalMlflowUrl(state);
      const port =
        num(values['mlflow-port'], '--mlflow-port') ??
        (recorded ? Number(new URL(recorded).port) : undefined);
      const mlflow = await startMlflowServer({ stateDir: localMlflowDir(state), port });
      recordLocalMlflowUrl(state, mlflow.url);
      process.stdout.write(
        `MLflow: ${mlflow.url} (pid ${mlflow.pid}${mlflow.reused ? ', already running' : ''}, data ${localMlflowDir(state)})\n`,
      );
    }
    if (!values['no-label-server']) {
      const urlFile = path.join(state, 'label-server.url');
      const existing = runningLabelServer(state);
      const label = existing
        ? { pid: existing, url: readFileSync(urlFile, 'utf8').trim() }
        : await startLabelServerProcess(
            state,
            num(values['label-port'], '--label-port') ?? DEFAULT_LABEL_PORT,
          );
      writeFileSync(urlFile, label.url);
      process.stdout.write(
        `Labelling page: ${label.url} (pid ${label.pid}${existing ? ', already running' : ''}; raters get links from \`alignrun raters add NAME\`)\n`,
      );
    }
    if (!values['no-workers']) {
      const existing = runningWorker(state);
      const pid =
        existing ??
        (await startWorkerProcess(state, server.address, { devices: num(values.devices, '--devices') }));
      process.stdout.write(
        `Worker: pid ${pid}${existing ? ' (already running)' : ''}, log ${workerLog(state)}\n`,
      );
    }
    return 0;
  });
}
