// The local Temporal dev server: started detached from the venv's CLI, persisted to SQLite in the
// state folder, recorded in a small JSON file so later commands (and `down`) find it.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { freePort, portIsFree, retryOnPortClash } from '../util/ports';
import { temporalBinary, UserError } from './paths';

/** Search attributes the workflows upsert and `status` filters on. */
export const SEARCH_ATTRIBUTES = ['AlignrunExperiment', 'AlignrunStatus', 'AlignrunPlanHash'] as const;

export interface DevServerOptions {
  /** State folder; the database, log and record live here. */
  stateDir: string;
  /** gRPC port; default 7233. */
  port?: number;
  /** Web UI port; default port + 1000. */
  uiPort?: number;
  /** How long to wait for the server to answer health checks; default 60 s. */
  startTimeoutMs?: number;
}

export interface DevServerInfo {
  pid: number;
  address: string;
  namespace: string;
  port: number;
  uiPort: number;
  uiUrl: string;
  dbFile: string;
  logFile: string;
}

const recordFile = (state: string) => path.join(state, 'temporal.json');

/** The dev server recorded in the state folder, if its process is still alive. */
export function readDevServer(state: string): DevServerInfo | undefined {
  const file = recordFile(state);
  if (!existsSync(file)) return undefined;
  const info = JSON.parse(readFileSync(file, 'utf8')) as DevServerInfo;
  return isAlive(info.pid) ? info : undefined;
}

/** Starts the dev server, or returns the one already running for this state folder. */
export async function startDevServer(opts: DevServerOptions): Promise<DevServerInfo> {
  const state = path.resolve(opts.stateDir);
  const running = readDevServer(state);
  if (running) {
    await waitHealthy(running, opts.startTimeoutMs ?? 60_000, () => true);
    return running;
  }
  const bin = temporalBinary();
  const port = opts.port ?? 7233;
  const uiPort = opts.uiPort ?? port + 1000;
  for (const [what, p] of [
    ['gRPC', port],
    ['UI', uiPort],
  ] as const) {
    if (!(await portIsFree(p))) {
      throw new UserError(
        `Port ${p} (Temporal ${what}) is already in use; stop what holds it or choose another port.`,
      );
    }
  }
  mkdirSync(state, { recursive: true });
  const info: DevServerInfo = {
    pid: 0,
    address: `127.0.0.1:${port}`,
    namespace: 'default',
    port,
    uiPort,
    uiUrl: `http://127.0.0.1:${uiPort}`,
    dbFile: path.join(state, 'temporal.db'),
    logFile: path.join(state, 'temporal.log'),
  };
  const args = ['server', 'start-dev', '--db-filename', info.dbFile, '--ip', '127.0.0.1'];
  args.push('--port', String(port), '--ui-port', String(uiPort), '--namespace', 'default');
  args.push('--log-level', 'warn', '--ui-disable-news-fetch');
  // Eager activity dispatch: a stage on the workflow's own queue comes back with the workflow task
  // completion instead of a separate poll, saving one round trip per stage.
  args.push('--dynamic-config-value', 'system.enableActivityEagerExecution=true');
  // The history service reads its transfer queue (which dispatches every workflow task) at most
  // 20 times a second by default: a chain of stages, one workflow task each, could not go faster
  // than ~50 ms a stage however idle the machine. Reads happen only when tasks are waiting.
  args.push('--dynamic-config-value', 'history.transferProcessorMaxPollRPS=1000');
  // SQLite in write-ahead-log mode: one append and fsync per commit instead of a rollback journal
  // created, synced and deleted each time; as durable (synchronous stays FULL), about a third less
  // time per stage. The -wal and -shm files beside the database belong to it.
  args.push('--sqlite-pragma', 'journal_mode=wal');
  for (const name of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${name}=Keyword`);
  const log = openSync(info.logFile, 'a');
  // Detached in its own process group so it outlives this command and `down` can stop it whole.
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code ?? -1));
  child.unref();
  info.pid = child.pid!;
  writeFileSync(recordFile(state), JSON.stringify(info, null, 2));
  try {
    await waitHealthy(info, opts.startTimeoutMs ?? 60_000, () => exited === undefined);
  } catch (err) {
    await stopDevServer(state);
    throw err;
  }
  return info;
}

/**
 * Starts a dev server on ports the OS reports free, picking new ones and trying again (up to
 * `attempts` times) when the server exits because a port was taken between the pick and its bind:
 * by another process starting at the same moment (parallel test files), or by the server's own
 * internal services, which choose their ports the same way.
 */
export async function startDevServerOnFreePorts(
  opts: Omit<DevServerOptions, 'port' | 'uiPort'>,
  attempts = 4,
  pickPort: () => Promise<number> = freePort,
): Promise<DevServerInfo> {
  return retryOnPortClash(
    async () => startDevServer({ ...opts, port: await pickPort(), uiPort: await pickPort() }),
    attempts,
    () => rmSync(path.join(path.resolve(opts.stateDir), 'temporal.log'), { force: true }),
  );
}

/** Stops the recorded dev server (its whole process group); false when none was running. */
export async function stopDevServer(state: string): Promise<boolean> {
  const info = readDevServer(path.resolve(state));
  rmSync(recordFile(path.resolve(state)), { force: true });
  if (!info) return false;
  await killGroup(info.pid);
  return true;
}

/** SIGTERM to a process group, SIGKILL if it has not gone within `graceMs`. */
export async function killGroup(pid: number, graceMs = 10_000): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await delay(100);
  if (isAlive(pid)) signalGroup(pid, 'SIGKILL');
  while (isAlive(pid)) await delay(50);
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Ready means: gRPC answers, the namespace exists and our search attributes are registered.
async function waitHealthy(info: DevServerInfo, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (!alive()) {
      throw new UserError(
        `The Temporal dev server exited while starting on port ${info.port}; see ${info.logFile}${logTail(info.logFile)}`,
      );
    }
    let conn: Connection | undefined;
    try {
      conn = await Connection.connect({ address: info.address, connectTimeout: 2000 });
      await conn.workflowService.describeNamespace({ namespace: info.namespace });
      const { customAttributes } = await conn.operatorService.listSearchAttributes({
        namespace: info.namespace,
      });
      if (SEARCH_ATTRIBUTES.every((k) => customAttributes && k in customAttributes)) return;
      lastError = 'search attributes not registered yet';
    } catch (err) {
      lastError = (err as Error).message;
    } finally {
      await conn?.close().catch(() => undefined);
    }
    await delay(250);
  }
  throw new UserError(
    `The Temporal dev server on ${info.address} was not healthy after ${Math.round(timeoutMs / 1000)} s (${lastError}); see ${info.logFile}.`,
  );
}

function logTail(file: string): string {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const last = lines.filter((l) => /error|fatal/i.test(l)).pop() ?? lines.pop();
    return last ? `: ${last.slice(0, 300)}` : '.';
  } catch {
    return '.';
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));
