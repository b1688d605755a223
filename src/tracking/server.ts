// Starts and stops the local MLflow tracking server (SQLite backend, artifacts proxied through
// the server). The server runs detached in its own process group so that `alignrun up` can leave
// it running after the CLI exits; a pid file in the state folder lets a later process stop it.
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, portIsFree, retryOnPortClash } from '../util/ports';

export interface MlflowServerOptions {
  /** Folder holding mlflow.db, mlartifacts/, mlflow.log and mlflow.pid. Created if missing. */
  stateDir: string;
  /** Port to listen on. Default: a free port chosen by the OS. */
  port?: number;
  /** Interface to bind. Default: 127.0.0.1 (local only). */
  host?: string;
  /** How long to wait for /health to answer. Default: 120 s (the first start runs migrations). */
  timeoutMs?: number;
  /**
   * Extra Host headers the server accepts (its DNS-rebinding guard), e.g. 'mlflow.lab:*', for when
   * it is reached by another name. Loopback is always accepted. Default: MLflow's own list.
   */
  allowedHosts?: string[];
  /** Python virtual environment holding mlflow. Default: $ALIGNRUN_VENV or <repo>/.venv. */
  venv?: string;
}

export interface MlflowServer {
  url: string;
  pid: number;
  /** True when a healthy server already running for this state folder was returned. */
  reused: boolean;
  stop(): Promise<void>;
}

interface PidFile {
  pid: number;
  url: string;
}

export class MlflowServerError extends Error {
  override name = 'MlflowServerError';
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export function defaultVenv(): string {
  return process.env.ALIGNRUN_VENV ?? join(repoRoot, '.venv');
}

function pidFilePath(stateDir: string): string {
  return join(stateDir, 'mlflow.pid');
}

interface ProcessInfo {
  pid: number;
  cmdline: string;
}

// Live (non-zombie) members of a process group, read from /proc. Zombies are skipped because an
// orphan that init has not reaped yet still answers kill(0) but holds no port and no memory.
function groupMembers(pgid: number): ProcessInfo[] {
  const members: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) !== pgid || state === 'Z') continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      members.push({ pid: Number(entry), cmdline });
    } catch {
      // the process ended while we looked
    }
  }
  return members;
}

const hasProc = existsSync('/proc/self/stat');

function groupAlive(pgid: number): boolean {
  if (hasProc) return groupMembers(pgid).length > 0;
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// A pid from an old pid file may have been reused by an unrelated process: only act on a group
// that still runs mlflow (checked through /proc where the OS has one).
function looksLikeMlflow(pgid: number): boolean {
  if (!hasProc) return groupAlive(pgid);
  return groupMembers(pgid).some((p) => p.cmdline.includes('mlflow'));
}

async function healthy(url: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok;
  } catch {
    return false;
  }
}

function readPidFile(stateDir: string): PidFile | undefined {
  try {
    const parsed = JSON.parse(readFileSync(pidFilePath(stateDir), 'utf8')) as PidFile;
    return typeof parsed.pid === 'number' && typeof parsed.url === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function logTail(logPath: string, lines = 5): string {
  try {
    const all = readFileSync(logPath, 'utf8').trim().split('\n');
    return all.slice(-lines).join(' | ');
  } catch {
    return '';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `mlflow server` for `stateDir` and waits until /health answers. If a healthy server
 * started earlier for the same state folder is still running, returns it instead.
 */
export async function startMlflowServer(options: MlflowServerOptions): Promise<MlflowServer> {
  // A port picked here can be taken before the server binds it (another server starting at the
  // same moment): pick a fresh one and try again. A port the caller chose is never changed.
  return retryOnPortClash(
    () => startMlflowOnce(options),
    options.port === undefined ? 4 : 1,
    () => rmSync(join(resolve(options.stateDir), 'mlflow.log'), { force: true }),
  );
}

async function startMlflowOnce(options: MlflowServerOptions): Promise<MlflowServer> {
  const stateDir = resolve(options.stateDir);
  const host = options.host ?? '127.0.0.1';
  const timeoutMs = options.timeoutMs ?? 120_000;
  const venv = options.venv ?? defaultVenv();
  const mlflowBin = join(venv, 'bin', 'mlflow');
  mkdirSync(stateDir, { recursive: true });

  const deadline = Date.now() + timeoutMs;
  const previous = readPidFile(stateDir);
  if (previous && looksLikeMlflow(previous.pid)) {
    // Started earlier (maybe by another process still waiting for it): give it the same time.
    while (Date.now() < deadline && looksLikeMlflow(previous.pid)) {
      if (await healthy(previous.url)) return handle(stateDir, previous.pid, previous.url, true);
      await sleep(250);
    }
  }
  if (previous) await stopMlflowServer(stateDir);

  if (!existsSync(mlflowBin)) {
    throw new MlflowServerError(`MLflow is not installed at ${mlflowBin}; run npm run setup.`);
  }
  const port = options.port ?? (await freePort(host));
  if (!(await portIsFree(port, host))) {
    throw new MlflowServerError(`Port ${port} on ${host} is already in use; choose another port for MLflow.`);
  }

  const logPath = join(stateDir, 'mlflow.log');
  const logFd = openSync(logPath, 'a');
  const args = [
    'server',
    '--backend-store-uri',
    `sqlite:///${join(stateDir, 'mlflow.db')}`,
    '--artifacts-destination',
    join(stateDir, 'mlartifacts'),
    '--host',
    host,
    '--port',
    String(port),
    // One worker: alignrun's traffic is small and each worker is a ~250 MB Python process.
    '--workers',
    '1',
  ];
  if (options.allowedHosts?.length) {
    // --allowed-hosts replaces MLflow's default list (loopback and private IPs) instead of adding
    // to it (measured on 3.17): keep loopback and the bound address, or local clients get 403.
    const local = ['localhost', 'localhost:*', '127.0.0.1', '127.0.0.1:*', '[[]::1]:*', host, `${host}:*`];
    args.push('--allowed-hosts', [...new Set([...local, ...options.allowedHosts])].join(','));
  }
  const child = spawn(mlflowBin, args, {
    cwd: stateDir,
    detached: true,
    stdio: ['ignore', logFd, logFd],
    // The job runner (huey consumers) is for server-side GenAI jobs alignrun never uses; disabling
    // it was measured to save ~500 MB of resident memory and ~12 s of start time.
    env: { ...process.env, MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' },
  });
  closeSync(logFd);
  const spawnError = new Promise<Error>((ok) => child.once('error', ok));
  let exited = false;
  child.once('exit', () => (exited = true));
  child.unref();
  if (child.pid === undefined) {
    const err = await spawnError;
    throw new MlflowServerError(`Could not start ${mlflowBin} (${err.message}); run npm run setup.`);
  }
  const pid = child.pid;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  writeFileSync(pidFilePath(stateDir), JSON.stringify({ pid, url } satisfies PidFile));

  const startDeadline = Date.now() + timeoutMs;
  while (Date.now() < startDeadline) {
    if (await healthy(url)) return handle(stateDir, pid, url, false);
    if (exited) {
      await stopMlflowServer(stateDir);
      const tail = logTail(logPath);
      throw new MlflowServerError(
        `MLflow server on port ${port} exited during start-up; see ${logPath}${tail ? ` (${tail})` : ''}.`,
      );
    }
    await sleep(250);
  }
  await stopMlflowServer(stateDir);
  throw new MlflowServerError(
    `MLflow server on port ${port} did not become healthy within ${Math.round(timeoutMs / 1000)} s; see ${logPath}.`,
  );
}

function handle(stateDir: string, pid: number, url: string, reused: boolean): MlflowServer {
  return { url, pid, reused, stop: () => stopMlflowServer(stateDir) };
}

/**
 * Stops the server started for `stateDir`: SIGTERM to its whole process group, SIGKILL after
 * `graceMs`, and waits until no process of the group is left. A no-op when none is running.
 */
export async function stopMlflowServer(stateDir: string, graceMs = 10_000): Promise<void> {
  const info = readPidFile(resolve(stateDir));
  if (info && looksLikeMlflow(info.pid)) await killGroup(info.pid, graceMs);
  rmSync(pidFilePath(resolve(stateDir)), { force: true });
}

/** Kills the server's process group at once (SIGKILL), as a crash would; for fault tests. */
export async function killMlflowServer(stateDir: string): Promise<void> {
  const info = readPidFile(resolve(stateDir));
  if (info && looksLikeMlflow(info.pid)) await killGroup(info.pid, 0);
  rmSync(pidFilePath(resolve(stateDir)), { force: true });
}

async function killGroup(pgid: number, graceMs: number): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // already gone
    }
  };
  signal(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
  const termDeadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < termDeadline) await sleep(100);
  if (groupAlive(pgid)) signal('SIGKILL');
  const killDeadline = Date.now() + 10_000;
  while (groupAlive(pgid) && Date.now() < killDeadline) await sleep(50);
  if (groupAlive(pgid)) throw new MlflowServerError(`MLflow process group ${pgid} survived SIGKILL.`);
}
