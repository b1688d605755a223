// `alignrun worker`: serves the cpu and/or gpu task queues of any Temporal cluster until stopped.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { CONNECTION_HELP, connectionFlags, connectionOptions, parse, runVerb } from '../runtime/cli';
import { connectNative, resolveConnection } from '../runtime/connection';
import { stateDir, UserError } from '../runtime/paths';
import type { StageImplementation } from '../runtime/stage';
import { WorkerSet } from '../runtime/workers';
import type { Queue } from '../spec/plan';

const HELP = `Usage: alignrun worker [--queue cpu|gpu|cpu,gpu] [--devices N] [connection flags]
Runs stage activities (and, on the cpu queue, the workflows) until SIGINT/SIGTERM, which lets
in-flight stages finish for up to --grace (default 30s).
  --queue Q      task queues to serve (default cpu,gpu)
  --devices N    GPU stages at once (env ALIGNRUN_GPU_DEVICES, default 1)
  --grace DUR    shutdown grace time (default 30s)
${CONNECTION_HELP}`;

/** `extraStages`: stage kinds to serve besides the spec's (the tests' worker entry passes its own). */
export async function run(
  argv: string[],
  extraStages?: Record<string, StageImplementation>,
): Promise<number> {
  return runVerb(async () => {
    const { values } = parse('worker', argv, {
      ...connectionOptions,
      queue: { type: 'string', multiple: true },
      devices: { type: 'string' },
      grace: { type: 'string' },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const queues = [
      ...new Set((values.queue ?? ['cpu,gpu']).flatMap((q) => q.split(',')).map((q) => q.trim())),
    ];
    for (const q of queues) {
      if (q !== 'cpu' && q !== 'gpu')
        throw new UserError(`alignrun worker: unknown queue "${q}"; use cpu, gpu or cpu,gpu.`);
    }
    const devices = values.devices === undefined ? undefined : Number(values.devices);
    const cfg = resolveConnection(connectionFlags(values));
    // Runtime's default shutdown signals (SIGINT, SIGTERM, ...) stop the workers gracefully.
    Runtime.install({ logger: new DefaultLogger((process.env.ALIGNRUN_LOG_LEVEL as 'INFO') ?? 'WARN') });
    const connection = await connectNative(cfg);
    try {
      const workers = await WorkerSet.create({
        connection,
        namespace: cfg.namespace,
        stateDir: stateDir(values.state),
        queues: queues as Queue[],
        gpuDevices: devices,
        shutdownGraceTime: values.grace,
        log: (line) => process.stdout.write(`alignrun worker: ${line}\n`),
        extraStages,
      });
      process.stdout.write(
        `alignrun worker: serving ${queues.join(', ')} on ${cfg.address} (pid ${process.pid})\n`,
      );
      await workers.run();
      return 0;
    } finally {
      await connection.close();
    }
  });
}
