// The background worker process `alignrun up` starts: detached, with a pid file and a log in the
// state folder, so `down` (or a later `up`) finds it.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isAlive, killGroup } from './devserver';
import { repoRoot, UserError } from './paths';

const pidFile = (state: string) => path.join(state, 'worker.pid');
export const workerLog = (state: string) => path.join(state, 'worker.log');

/** The pid of the state folder's background worker, if it is alive. */
export function runningWorker(state: string): number | undefined {
  if (!existsSync(pidFile(state))) return undefined;
  const pid = Number(readFileSync(pidFile(state), 'utf8'));
  return pid > 0 && isAlive(pid) ? pid : undefined;
}

export async function startWorkerProcess(
  state: string,
  address: string,
  opts: { devices?: number; timeoutMs?: number } = {},
): Promise<number> {
  const log = workerLog(state);
  const offset = existsSync(log) ? readFileSync(log).length : 0;
  const fd = openSync(log, 'a');
  const args = ['--import', 'tsx', path.join(repoRoot, 'src/runtime/worker-entry.ts'), '--state', state];
  args.push('--address', address);
  if (opts.devices) args.push('--devices', String(opts.devices));
  const child = spawn(process.execPath, args, { cwd: repoRoot, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  let exited = false;
  child.on('exit', () => (exited = true));
  writeFileSync(pidFile(state), String(child.pid));
  // Bundling the workflow code takes a few seconds before the worker polls.
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  while (Date.now() < deadline) {
    const text = readFileSync(log).subarray(offset).toString('utf8');
    if (text.includes('alignrun worker: serving')) return child.pid!;
    if (exited) {
      rmSync(pidFile(state), { force: true });
      const last = text.trim().split('\n').pop() ?? '';
      throw new UserError(`The worker exited while starting (${last.slice(0, 300)}); see ${log}.`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await killGroup(child.pid!);
  throw new UserError(
    `The worker did not start within ${Math.round((opts.timeoutMs ?? 120_000) / 1000)} s; see ${log}.`,
  );
}

/** SIGTERM (graceful: in-flight stages get the shutdown grace time), then SIGKILL. */
export async function stopWorkerProcess(state: string): Promise<boolean> {
  const pid = runningWorker(state);
  rmSync(pidFile(state), { force: true });
  if (!pid) return false;
  await killGroup(pid, 40_000);
  return true;
}
