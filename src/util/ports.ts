// Local TCP ports for the servers alignrun starts (Temporal dev server, MLflow): one that is free
// now, whether a given one is, and starting a server on picked ports again when one is taken
// before the server binds it.
import { createServer } from 'node:net';

/** A port the OS reports free right now on `host` (tests and auto-picked servers use it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', fail);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? ok(addr.port) : fail(new Error('no port'))));
    });
  });
}

/** Whether `port` on `host` can be bound right now. */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((ok) => {
    const srv = createServer();
    srv.once('error', () => ok(false));
    srv.listen(port, host, () => srv.close(() => ok(true)));
  });
}

/**
 * Runs `start` (which picks its own free ports) up to `attempts` times while it fails because a
 * port is already in use: a port picked free can be taken before the server binds it, by another
 * process starting at the same moment or by the server's own internal services. `beforeRetry`
 * runs between attempts (e.g. to remove the failed attempt's log, which the next error would
 * otherwise quote). Any other error, or the last attempt's, reaches the caller.
 */
export async function retryOnPortClash<T>(
  start: () => Promise<T>,
  attempts: number,
  beforeRetry: () => void = () => undefined,
): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await start();
    } catch (err) {
      if (i >= attempts || !/already in use/i.test((err as Error).message)) throw err;
      beforeRetry();
    }
  }
}
