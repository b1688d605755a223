// Heartbeats that keep flowing while a stage works: the stage's own heartbeats (progress and
// checkpoint details) plus one every second from a timer, repeating the last details. The worker
// sends at most one heartbeat a second (maxHeartbeatThrottleInterval, src/runtime/workers.ts), so
// a dead worker is noticed one heartbeat timeout after its last second, `status` shows progress
// that is at most a second old, and a cancellation (delivered only in a heartbeat's response)
// reaches the stage within a second plus one of its steps.
import { Context } from '@temporalio/activity';

const EVERY_MS = 1000;

export interface LiveHeartbeat {
  /** The stage's heartbeat; without details it keeps the last ones (so a checkpoint is never lost). */
  heartbeat(details?: unknown): void;
  stop(): void;
}

export function liveHeartbeat(ctx: Context = Context.current()): LiveHeartbeat {
  // A retried attempt starts from the checkpoint its predecessor left: repeat it until the stage
  // sends its own, so dying before its first heartbeat does not erase it.
  let last: unknown = ctx.info.heartbeatDetails;
  const send = () => ctx.heartbeat(last);
  const timer = setInterval(send, EVERY_MS);
  timer.unref();
  return {
    heartbeat(details) {
      if (details !== undefined) last = details;
      send();
    },
    stop: () => clearInterval(timer),
  };
}
