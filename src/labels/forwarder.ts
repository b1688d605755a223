// Forwards accepted label events from the store's outbox to a receiver (the labelling workflow),
// in order, one batch in flight at a time. An event leaves the outbox only after `send` resolved,
// so a crash re-sends at most the last batch; event ids let the receiver drop those repeats.
// Run one forwarder per label database: two would send the same events concurrently.
import type { LabelStore } from './store';
import type { LabelEvent } from './types';

export interface ForwarderOptions {
  store: LabelStore;
  /** Delivers a batch; resolve only once the receiver has durably taken it. */
  send: (batch: LabelEvent[]) => Promise<void>;
  /** Most events per `send`. Default 100. */
  batchSize?: number;
  /** How often an idle forwarder looks for events written by another process, and the first retry delay. Default 500. */
  intervalMs?: number;
  /** Longest wait between retries of a failing `send`. Default 30,000. */
  maxBackoffMs?: number;
  /** Told about each failed `send`; the batch is retried. Default: console.error. */
  onError?: (err: unknown, attempt: number) => void;
}

export interface Forwarder {
  /** Resolves once the outbox is empty (rejects after timeoutMs, default 30,000). */
  flush(timeoutMs?: number): Promise<void>;
  /** Stops after the batch in flight, if any, has been sent and acknowledged. */
  stop(): Promise<void>;
  /** Events acknowledged by the receiver since start. */
  readonly delivered: number;
}

export function startForwarder(options: ForwarderOptions): Forwarder {
  const {
    store,
    send,
    batchSize = 100,
    intervalMs = 500,
    maxBackoffMs = 30_000,
    onError = (err: unknown, attempt: number) =>
      console.error(
        `label forwarder: send failed (attempt ${attempt}), will retry: ${(err as Error)?.message ?? err}`,
      ),
  } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new Error(`batchSize must be a whole number ≥ 1, got ${batchSize}.`);
  if (!(intervalMs > 0)) throw new Error(`intervalMs must be positive, got ${intervalMs}.`);

  let running = true;
  let delivered = 0;
  let idle = false;
  let wake: (() => void) | undefined;
  const waiters = new Set<() => void>();

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  const unsubscribe = store.onEvent(() => wake?.());

  const loop = async () => {
    let failures = 0;
    while (running) {
      try {
        const batch = store.pendingEvents(batchSize);
        if (batch.length === 0) {
          idle = true;
          for (const w of waiters) w();
          await sleep(intervalMs);
          continue;
        }
        idle = false;
        await send(batch);
        store.ackEvents(batch);
        delivered += batch.length;
        failures = 0;
      } catch (err) {
        // The same batch goes again (a send that did land is dropped by the receiver's dedupe).
        failures += 1;
        onError(err, failures);
        await sleep(Math.min(intervalMs * 2 ** (failures - 1), maxBackoffMs));
      }
    }
  };
  const finished = loop();

  return {
    get delivered() {
      return delivered;
    },
    flush(timeoutMs = 30_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`label forwarder: ${store.pendingCount()} events still unsent after ${timeoutMs} ms.`),
          );
        }, timeoutMs);
        function check() {
          if (idle && store.pendingCount() === 0) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          }
        }
        waiters.add(check);
        idle = false;
        wake?.();
      });
    },
    async stop() {
      running = false;
      unsubscribe();
      wake?.();
      await finished;
    },
  };
}
