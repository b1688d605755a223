// The tracking API stages use. Every call is checked, committed to the durable outbox and
// returns at once; delivery to MLflow happens in the background (see buffer.ts), so a stage
// never fails or waits because MLflow is down. Runs are named by caller-chosen deterministic
// keys (e.g. `<plan hash>/<stage key>`), which makes every call safe to repeat.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { MAX_KEY_LENGTH, MAX_TAG_VALUE_LENGTH, type KeyValue, type Metric } from './batch';
import { TrackingBuffer, type TrackingBufferOptions } from './buffer';
import { encodeArtifactPath, type RunStatus } from './client';
import type { OutboxStatus } from './outbox';
import { flattenParams } from './params';

export type TrackerOptions = TrackingBufferOptions;

export interface StartRunArgs {
  /** Deterministic key of the run; the same key always means the same MLflow run. */
  key: string;
  /** Display name in MLflow. */
  name: string;
  /** Key of the parent run (already started), for nested runs such as sweep trials. */
  parentKey?: string;
  /** Experiment name; created on first use. */
  experiment: string;
  /** Nested values are flattened into dotted params (`stages.reward.lambda`). */
  params?: Record<string, unknown>;
  tags?: Record<string, string>;
  /** Default: now, fixed when the call is made. */
  startTime?: number;
  /**
   * When the run exists and has ended, set it back to RUNNING (e.g. a stage run again).
   * Default false: starting a known run only finds it again, without changing its status.
   */
  reopen?: boolean;
}

export interface MetricPoint {
  key: string;
  value: number;
  step: number;
  /** ms since epoch. Default: now, fixed when the call is made, so a replay sends the same row. */
  timestamp?: number;
}

const VALID_NAME = /^[\w.\- :/]+$/;

function checkName(what: string, name: string): void {
  if (!VALID_NAME.test(name) || name.length > MAX_KEY_LENGTH || /\/\/|\/$|^\//.test(name)) {
    throw new Error(
      `${what} '${name}' is not a valid MLflow name: use at most ${MAX_KEY_LENGTH} letters, digits, ` +
        `'_', '-', '.', ' ', ':' or '/' (no leading, trailing or double '/').`,
    );
  }
}

function checkRunKey(key: string): void {
  if (key === '' || key.length > MAX_TAG_VALUE_LENGTH || (key.includes("'") && key.includes('"'))) {
    throw new Error(
      `Run key '${key}' must be non-empty, at most ${MAX_TAG_VALUE_LENGTH} characters, without both quote kinds.`,
    );
  }
}

export class Tracker {
  private readonly buffer: TrackingBuffer;
  private readonly started = new Set<string>();

  constructor(options: TrackerOptions) {
    this.buffer = new TrackingBuffer(options);
  }

  startRun(args: StartRunArgs): void {
    checkRunKey(args.key);
    if (args.experiment.trim() === '') throw new Error('An MLflow experiment name must not be empty.');
    if (args.parentKey !== undefined) this.requireRun(args.parentKey, 'parent run');
    const tags: KeyValue[] = Object.entries(args.tags ?? {}).map(([key, value]) => {
      checkName('Tag', key);
      return { key, value: String(value).slice(0, MAX_TAG_VALUE_LENGTH) };
    });
    this.buffer.enqueue({
      kind: 'startRun',
      runKey: args.key,
      experiment: args.experiment,
      name: args.name,
      parentKey: args.parentKey,
      params: flattenParams(args.params ?? {}),
      tags,
      startTime: args.startTime ?? Date.now(),
      reopen: args.reopen,
    });
    this.started.add(args.key);
  }

  /**
   * Logs metric points. With `source` (who logs them as curves, e.g. a stage instance's key) the
   * outbox also keeps each metric's last step and value from that source, read by `curveSteps` and
   * `curveEnds`: durably, with the call, so an attempt after a crash sees them.
   */
  logMetrics(runKey: string, points: MetricPoint[], source?: string): void {
    this.requireRun(runKey);
    if (points.length === 0) return;
    const now = Date.now();
    const metrics: Metric[] = points.map((p) => {
      checkName('Metric', p.key);
      if (typeof p.value !== 'number')
        throw new Error(`Metric '${p.key}' must be a number, got ${typeof p.value}.`);
      if (!Number.isInteger(p.step))
        throw new Error(`Metric '${p.key}' step must be an integer, got ${p.step}.`);
      return { key: p.key, value: p.value, step: p.step, timestamp: p.timestamp ?? now };
    });
    this.buffer.enqueue({ kind: 'logMetrics', runKey, metrics, ...(source !== undefined && { source }) });
  }

  /** The last step `source` logged of each metric of the run (by any process sharing the outbox). */
  curveSteps(runKey: string, source: string): Map<string, number> {
    return this.buffer.outbox.curveSteps(runKey, source);
  }

  /** The last point of every source's curve of `metric` in the run. */
  curveEnds(runKey: string, metric: string): { step: number; value: number }[] {
    return this.buffer.outbox.curveEnds(runKey, metric);
  }

  setTags(runKey: string, tags: Record<string, string>): void {
    this.requireRun(runKey);
    const list = Object.entries(tags).map(([key, value]) => {
      checkName('Tag', key);
      return { key, value: String(value).slice(0, MAX_TAG_VALUE_LENGTH) };
    });
    if (list.length > 0) this.buffer.enqueue({ kind: 'setTags', runKey, tags: list });
  }

  /**
   * Logs an artifact at `artifactPath` in the run. Bytes are copied into the outbox; a file is
   * referenced by path (big checkpoints are not copied), so it must stay in place until delivered.
   */
  logArtifact(runKey: string, artifactPath: string, content: Uint8Array | string): void {
    this.requireRun(runKey);
    encodeArtifactPath(artifactPath);
    if (typeof content === 'string') {
      const filePath = resolve(content);
      let isFile = false;
      try {
        isFile = statSync(filePath).isFile();
      } catch {
        // reported below
      }
      if (!isFile) throw new Error(`Artifact file ${filePath} does not exist or is not a file.`);
      this.buffer.enqueue({ kind: 'logArtifact', runKey, artifactPath, filePath });
    } else {
      this.buffer.enqueue({ kind: 'logArtifact', runKey, artifactPath }, content);
    }
  }

  endRun(
    runKey: string,
    status: Exclude<RunStatus, 'RUNNING' | 'SCHEDULED'> = 'FINISHED',
    endTime = Date.now(),
  ): void {
    this.requireRun(runKey);
    this.buffer.enqueue({ kind: 'endRun', runKey, status, endTime });
  }

  /** True when `runKey` was started here, by an earlier attempt, or by a process sharing the outbox. */
  knowsRun(runKey: string): boolean {
    return this.started.has(runKey) || this.buffer.knowsRun(runKey);
  }

  /** Calls not yet acknowledged by MLflow (for `alignrun status`). */
  pendingCount(): number {
    return this.buffer.pendingCount();
  }

  status(): OutboxStatus & { lastError?: string } {
    return this.buffer.status();
  }

  /** Waits until MLflow acknowledged every call made so far; throws after `timeoutMs`. */
  flush(timeoutMs?: number): Promise<void> {
    return this.buffer.flush(timeoutMs);
  }

  /** Stops delivery; calls not yet acknowledged stay in the outbox for the next Tracker. */
  close(): Promise<void> {
    return this.buffer.close();
  }

  private requireRun(runKey: string, what = 'run'): void {
    if (this.started.has(runKey)) return;
    // Started by an earlier attempt or another process sharing the outbox.
    if (!this.buffer.knowsRun(runKey)) {
      throw new Error(`The ${what} '${runKey}' was never started: call startRun with this key first.`);
    }
    this.started.add(runKey);
  }
}
