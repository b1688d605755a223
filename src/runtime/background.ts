// The background processes `alignrun up` starts (the worker, the label server): detached, each
// with a pid file and a log in the state folder, so `down` (or a later `up`) finds them.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isAlive, killGroup } from './devserver';
import { repoRoot, UserError } from './paths';

type ProcessName = 'worker' | 'label-server';
const pidFile = (state: string, name: ProcessName) => path.join(state, `${name}.pid`);
const logFile = (state: string, name: ProcessName) => path.join(state, `${name}.log`);
export const workerLog = (state: string) => logFile(state, 'worker');
export const labelServerLog = (state: string) => logFile(state, 'label-server');

/** The pid of a background process of the state folder, if it is alive. */
function running(state: string, name: ProcessName): number | undefined {
  if (!existsSync(pidFile(state, name))) return undefined;
  const pid = Number(readFileSync(pidFile(state, name), 'utf8'));
  return pid > 0 && isAlive(pid) ? pid : undefined;
}

export const runningWorker = (state: string) => running(state, 'worker');
export const runningLabelServer = (state: string) => running(state, 'label-server');

/** Starts `node --import tsx <script> ...args` detached and waits for `ready` in its log. */
async function startBackground(
  state: string,
  name: ProcessName,
  script: string,
  args: string[],
  ready: string,
  timeoutMs: number,
): Promise<{ pid: number; line: string }> {
  const log = logFile(state, name);
  const offset = existsSync(log) ? readFileSync(log).length : 0;
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, script), ...args], {
    cwd: repoRoot,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  child.unref();
  let exited = false;
  child.on('exit', () => (exited = true));
  writeFileSync(pidFile(state, name), String(child.pid));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = readFileSync(log).subarray(offset).toString('utf8');
    const at = text.indexOf(ready);
    if (at >= 0) return { pid: child.pid!, line: text.slice(at).split('\n')[0] };
    if (exited) {
      rmSync(pidFile(state, name), { force: true });
      const last = text.trim().split('\n').pop() ?? '';
      throw new UserError(`The ${name} exited while starting (${last.slice(0, 300)}); see ${log}.`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await killGroup(child.pid!);
  throw new UserError(`The ${name} did not start within ${Math.round(timeoutMs / 1000)} s; see ${log}.`);
}

export async function startWorkerProcess(
  state: string,
  address: string,
  opts: { devices?: number; timeoutMs?: number } = {},
): Promise<number> {
  const args = ['--state', state, '--address', address];
  if (opts.devices) args.push('--devices', String(opts.devices));
  // Bundling the workflow code takes a few seconds before the worker polls.
  const { pid } = await startBackground(
    state,
    'worker',
    'src/runtime/worker-entry.ts',
    args,
    'alignrun worker: serving',
    opts.timeoutMs ?? 120_000,
  );
  return pid;
}

/** The labelling page and API; returns its pid and URL. */
export async function startLabelServerProcess(
  state: string,
  port: number,
): Promise<{ pid: number; url: string }> {
  const { pid, line } = await startBackground(
    state,
    'label-server',
    'bin/alignrun.js',
    ['label-server', '--state', state, '--port', String(port)],
    'Label server at ',
    30_000,
  );
  return { pid, url: line.slice('Label server at '.length).split(' ')[0] };
}

/** SIGTERM (graceful: in-flight stages get the shutdown grace time), then SIGKILL. */
async function stop(state: string, name: ProcessName, graceMs: number): Promise<boolean> {
  const pid = running(state, name);
  rmSync(pidFile(state, name), { force: true });
  if (!pid) return false;
  await killGroup(pid, graceMs);
  return true;
}

export const stopWorkerProcess = (state: string) => stop(state, 'worker', 40_000);
export const stopLabelServerProcess = (state: string) => stop(state, 'label-server', 5_000);
