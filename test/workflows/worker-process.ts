// A worker in its own process (the real `alignrun worker` code, with the test stages: see
// test/helpers/worker-entry.ts), so a test can SIGKILL it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { repoRoot } from '../../src/runtime/paths';

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves once the worker prints that it is serving. */
  ready: Promise<void>;
  output(): string;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

export function spawnWorker(address: string, stateDir: string): WorkerProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/helpers/worker-entry.ts', '--address', address, '--state', stateDir],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('alignrun worker: serving')) resolve();
    });
    child.stderr!.on('data', (d) => (out += d));
    child.on('exit', (code) => reject(new Error(`worker exited (${code}) before serving:\n${out}`)));
  });
  ready.catch(() => undefined);
  return {
    child,
    ready,
    output: () => out,
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill(signal);
      const [code] = await exited;
      return code as number | null;
    },
  };
}
