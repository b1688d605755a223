// Process memory around a training step: the resident-set high-water mark, reset before the step
// so it measures that step alone (Linux: /proc/self/clear_refs "5"; elsewhere the larger of the
// RSS before and after, a lower bound).
import { readFileSync, writeFileSync } from 'node:fs';

let canReset: boolean | undefined;

/** Starts a measurement; the returned function gives the peak RSS in bytes since the call. */
export function trackPeakRss(): () => number {
  const before = process.memoryUsage.rss();
  if (canReset !== false) {
    try {
      writeFileSync('/proc/self/clear_refs', '5');
      canReset = true;
    } catch {
      canReset = false;
    }
  }
  return () => {
    const now = process.memoryUsage.rss();
    const hwm = canReset ? highWaterMark() : undefined;
    return Math.max(hwm ?? 0, before, now);
  };
}

function highWaterMark(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
