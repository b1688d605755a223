// Tracking of alignrun runs in MLflow, as the workers see it: one Tracker (durable outbox +
// background delivery) per tracking URI, the trial and sweep runs the workflows open and close
// through small activities, and the `track` handle a stage gets in its context.
//
// Where runs go: $MLFLOW_TRACKING_URI, else the spec's `tracking.uri`, else the local server
// `alignrun up` recorded in the state folder. Each URI has its own outbox file in
// `<state>/tracking/` (a sidecar `.uri` names the server), so calls made while MLflow is away are
// delivered later, by this worker or the next one, and `alignrun status` can count them.
//
// Tracking never fails a run: an invalid call or a missing URI is reported once on stderr and the
// run goes on.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunEndStatus, RunStart, StageTrackingRef, TrackedRun } from '../runtime/protocol';
import { MAX_KEY_LENGTH } from './batch';
import { outboxStatus, type OutboxStatus } from './outbox';
import { alignrunVersion, flattenParams, gitCommit, TAGS } from './params';
import { Tracker, type MetricPoint, type TrackerOptions } from './tracker';

export type { RunEndStatus, RunStart, StageTrackingRef, TrackedRun };

/** The MLflow server `alignrun up` runs for a state folder keeps its files here. */
export function localMlflowDir(stateDir: string): string {
  return join(stateDir, 'mlflow');
}

const recordedUrlFile = (stateDir: string) => join(localMlflowDir(stateDir), 'url');

/** Records the local server's URL; it stays after `down`, so calls made meanwhile wait for it. */
export function recordLocalMlflowUrl(stateDir: string, url: string): void {
  mkdirSync(localMlflowDir(stateDir), { recursive: true });
  writeFileSync(recordedUrlFile(stateDir), url);
}

/** The URL of the local server `alignrun up` started for this state folder, if it ever did. */
export function recordedLocalMlflowUrl(stateDir: string): string | undefined {
  try {
    return readFileSync(recordedUrlFile(stateDir), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** $MLFLOW_TRACKING_URI, else the spec's `tracking.uri`, else the local server of `up`. */
export function resolveTrackingUri(stateDir: string, specUri?: string): string | undefined {
  return process.env.MLFLOW_TRACKING_URI || specUri || recordedLocalMlflowUrl(stateDir);
}

const outboxDir = (stateDir: string) => join(stateDir, 'tracking');
const uriHash = (uri: string) => createHash('sha256').update(uri).digest('hex').slice(0, 12);

/** The outbox file holding the calls for `uri`. */
export function outboxPathFor(stateDir: string, uri: string): string {
  return join(outboxDir(stateDir), `outbox-${uriHash(uri)}.db`);
}

export interface PendingTracking extends OutboxStatus {
  uri: string;
  outboxPath: string;
}

/** Every outbox in the state folder with its counts (for `alignrun status` and worker start). */
export function trackingOutboxes(stateDir: string): PendingTracking[] {
  const dir = outboxDir(stateDir);
  if (!existsSync(dir)) return [];
  const out: PendingTracking[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (!/^outbox-[0-9a-f]+\.db$/.test(name)) continue;
    const outboxPath = join(dir, name);
    let uri: string;
    try {
      uri = readFileSync(`${outboxPath}.uri`, 'utf8').trim();
    } catch {
      continue; // not written by RunTracking
    }
    out.push({ uri, outboxPath, ...outboxStatus(outboxPath) });
  }
  return out;
}

/** One line per URI whose outbox still holds calls, or none when everything was delivered. */
export function pendingTrackingWarnings(stateDir: string): string[] {
  return trackingOutboxes(stateDir)
    .filter((o) => o.pending > 0)
    .map((o) => `${o.pending} tracking call${o.pending === 1 ? '' : 's'} waiting for MLflow at ${o.uri}`);
}

/** An MLflow metric name for a stage's metric: `<stage>.<metric>`, made valid for MLflow. */
export function stageMetricName(stage: string, metric: string): string {
  return `${stage}.${metric}`.replace(/[^\w.\- :/]/g, '_').slice(0, MAX_KEY_LENGTH);
}

/** Sets `value` at a dotted path (the sweep's assignment paths), creating objects on the way. */
function setPath(obj: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let o = obj as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) {
    if (o[p] === undefined || o[p] === null || typeof o[p] !== 'object') o[p] = {};
    o = o[p] as Record<string, unknown>;
  }
  o[parts[parts.length - 1]] = value;
}

/** The spec with a sweep assignment (dotted path -> value) applied. */
function assigned(
  spec: Record<string, unknown>,
  assignment: Record<string, unknown>,
): Record<string, unknown> {
  const out = structuredClone(spec);
  for (const [path, value] of Object.entries(assignment)) setPath(out, path, value);
  return out;
}

/**
 * A trial's params: the resolved spec with the trial's sweep assignment applied (so each trial
 * run shows its own values), plus `trial.id` and the assignment itself under `trial.`.
 */
export function trialParams(
  spec: Record<string, unknown>,
  assignment: Record<string, unknown> = {},
  trialId?: string,
): Record<string, unknown> {
  const params = assigned(spec, assignment);
  const trial: Record<string, unknown> = {};
  if (trialId !== undefined) trial.id = trialId;
  for (const [path, value] of Object.entries(assignment)) trial[path] = value;
  if (Object.keys(trial).length) params.trial = trial;
  return params;
}

/**
 * A sweep run's params: the flattened params (as MLflow shows them) that every trial's spec has
 * with the same value. A swept value, or a spec default that some trial overrides, is left out;
 * the swept values are listed by the spec's own `sweep.parameters`. Flattening these again (as
 * `Tracker.startRun` does) changes nothing.
 */
export function sharedTrialParams(
  spec: Record<string, unknown>,
  assignments: Record<string, unknown>[],
): Record<string, unknown> {
  const [first, ...rest] = assignments.map(
    (a) => new Map(flattenParams(assigned(spec, a)).map((p) => [p.key, p.value])),
  );
  if (!first) return spec;
  return Object.fromEntries([...first].filter(([key, value]) => rest.every((t) => t.get(key) === value)));
}

/** How a stage logs to its run (the trial's, or the sweep's for an instance shared by trials). */
export interface StageTrack {
  /** The MLflow run key the calls go to; undefined when tracking is off for this run. */
  readonly runKey: string | undefined;
  /**
   * Logs metrics as `<stage>.<key>`; `timestamp` defaults to now (fixed at the call). A point at or
   * before a step an earlier attempt of the stage logged for its key is skipped.
   */
  metrics(points: MetricPoint[]): void;
  /** Logs bytes, or a file by path (it must stay until delivered), at `<stage>/<path>`. */
  artifact(path: string, content: Uint8Array | string): void;
  /** Logs a PNG image (e.g. from plots.ts) at `<stage>/<path>`; the path must end in .png. */
  image(path: string, png: Uint8Array): void;
}

export interface RunTrackingOptions {
  /** Options passed to every Tracker (backoff, timeouts); trackingUri and outboxPath are set here. */
  tracker?: Omit<TrackerOptions, 'trackingUri' | 'outboxPath'>;
  /** Where warnings go. Default: stderr, prefixed `alignrun:`. */
  warn?: (message: string) => void;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The trackers of one worker process for one state folder, one per tracking URI. */
export class RunTracking {
  private readonly trackers = new Map<string, Tracker>();
  private readonly warned = new Set<string>();
  private readonly warn: (message: string) => void;
  private commit: string | undefined | null = null;
  private closed = false;

  constructor(
    readonly stateDir: string,
    private readonly options: RunTrackingOptions = {},
  ) {
    this.warn = options.warn ?? ((m) => process.stderr.write(`alignrun: ${m}\n`));
  }

  /** Starts delivery for every outbox of the state folder that still holds calls. */
  resumePending(): void {
    for (const o of trackingOutboxes(this.stateDir)) if (o.pending > 0) this.trackerFor(o.uri);
  }

  /** The Tracker for `uri` (created on first use). */
  trackerFor(uri: string): Tracker {
    let t = this.trackers.get(uri);
    if (!t) {
      if (this.closed) throw new Error('Run tracking is closed; no more tracking calls can be made.');
      const outboxPath = outboxPathFor(this.stateDir, uri);
      mkdirSync(outboxDir(this.stateDir), { recursive: true });
      writeFileSync(`${outboxPath}.uri`, uri);
      t = new Tracker({ ...this.options.tracker, trackingUri: uri, outboxPath });
      this.trackers.set(uri, t);
    }
    return t;
  }

  /** Opens (or, after a retry or resume, finds again) the run; it is RUNNING until `endRun`. */
  startRun(start: RunStart): void {
    this.guard(
      `start run ${start.run.key}`,
      (tracker) => {
        const tags: Record<string, string> = {
          [TAGS.workflowId]: start.workflowId,
          [TAGS.planHash]: start.planHash,
          [TAGS.version]: alignrunVersion(),
        };
        const commit = this.gitCommit();
        if (commit) tags[TAGS.gitCommit] = commit;
        if (start.trialId !== undefined) tags['alignrun.trial_id'] = start.trialId;
        if (start.specFile) tags['mlflow.source.name'] = start.specFile;
        tracker.startRun({
          key: start.run.key,
          name: start.run.name,
          parentKey: start.run.parentKey,
          experiment: start.run.experiment,
          params: start.trialAssignments
            ? sharedTrialParams(start.spec, start.trialAssignments)
            : trialParams(start.spec, start.assignment, start.trialId),
          tags,
        });
        // The whole resolved spec, beside the flattened params (which MLflow truncates).
        tracker.logArtifact(
          start.run.key,
          'spec/resolved.json',
          Buffer.from(JSON.stringify(start.spec, null, 2)),
        );
      },
      start.run,
    );
  }

  /**
   * Logs a finished stage's metrics as `<stage>.<metric>`, stamped with the stage's finish time.
   * A metric the stage also logged as a curve to this run (`ctx.track.metrics`) is logged at the
   * curve's last step, or not at all when that point holds the same value (the reward stage's
   * final `loss`); any other at step 0, as is a cached result logged to a run that has no curve of
   * it. Step and time depend only on the result and the run's curves, so logging the same result
   * again (a retry, a resumed run) adds no row in MLflow.
   */
  logStageMetrics(run: TrackedRun, stage: string, metrics: Record<string, number>, finishedAt: string): void {
    const entries = Object.entries(metrics).filter(([, v]) => typeof v === 'number');
    if (entries.length === 0) return;
    const finished = Date.parse(finishedAt);
    const timestamp = Number.isFinite(finished) ? finished : undefined;
    this.guard(
      `log the metrics of stage ${stage}`,
      (tracker) => {
        this.attach(tracker, run);
        const points: MetricPoint[] = [];
        for (const [k, value] of entries) {
          const key = stageMetricName(stage, k);
          // One curve per stage instance that logged it here (a sweep's run can hold several).
          const ends = tracker.curveEnds(run.key, key);
          if (ends.some((end) => Object.is(end.value, value))) continue;
          points.push({ key, value, step: Math.max(0, ...ends.map((end) => end.step)), timestamp });
        }
        tracker.logMetrics(run.key, points);
      },
      run,
    );
  }

  endRun(run: TrackedRun, status: RunEndStatus): void {
    this.guard(
      `end run ${run.key}`,
      (tracker) => {
        this.attach(tracker, run);
        tracker.endRun(run.key, status);
      },
      run,
    );
  }

  /**
   * The `track` handle of a stage's context, bound to the run in `ref` (or off without one).
   * `source` names the stage instance (its cache key): each step of its curve is logged to the run
   * once, so an attempt that resumes from a checkpoint (a retry, a resumed run) skips the steps an
   * earlier one already logged, as recorded in the outbox: no MLflow call is needed for it.
   */
  stageTrack(ref: StageTrackingRef | undefined, stage: string, source?: string): StageTrack {
    const run = ref?.run;
    const uri = run && this.uriOf(run);
    if (!run || !uri) {
      const why = run
        ? 'no MLflow tracking URI is set (MLFLOW_TRACKING_URI, tracking.uri in the spec, or alignrun up)'
        : 'the workflow gave the stage no tracking run';
      this.warnOnce(`off:${why}`, `stage ${stage} is not tracked in MLflow: ${why}.`);
    }
    const withRun = (what: string, fn: (tracker: Tracker, key: string) => void) => {
      if (run)
        this.guard(
          what,
          (tracker) => {
            this.attach(tracker, run);
            fn(tracker, run.key);
          },
          run,
        );
    };
    const artifactPath = (path: string) => `${stage.replace(/[/\\]/g, '_')}/${path}`;
    // The last step of each metric that `source` logged before this handle: read at the first call.
    let before: Map<string, number> | undefined;
    return {
      runKey: run && uri ? run.key : undefined,
      metrics: (points) =>
        withRun(`log metrics of stage ${stage}`, (tracker, key) => {
          before ??= source === undefined ? new Map() : tracker.curveSteps(key, source);
          const named = points.map((p) => ({ ...p, key: stageMetricName(stage, p.key) }));
          // (Not `>`: a step that is not a number still reaches logMetrics, which reports it.)
          const fresh = named.filter((p) => !(p.step <= (before!.get(p.key) ?? -Infinity)));
          tracker.logMetrics(key, fresh, source);
        }),
      artifact: (path, content) =>
        withRun(`log artifact ${path} of stage ${stage}`, (tracker, key) =>
          tracker.logArtifact(key, artifactPath(path), content),
        ),
      image: (path, png) => {
        if (!path.toLowerCase().endsWith('.png') || !PNG_MAGIC.every((b, i) => png[i] === b)) {
          this.warn(
            `stage ${stage} logged image ${path}, which is not a PNG (bytes and name must be PNG); skipped.`,
          );
          return;
        }
        withRun(`log image ${path} of stage ${stage}`, (tracker, key) =>
          tracker.logArtifact(key, artifactPath(path), png),
        );
      },
    };
  }

  /** Waits until MLflow acknowledged every call made so far, for every URI. */
  async flush(timeoutMs = 60_000): Promise<void> {
    await Promise.all([...this.trackers.values()].map((t) => t.flush(timeoutMs)));
  }

  /** Calls not yet delivered, over every URI this process tracks to. */
  pendingCount(): number {
    let n = 0;
    for (const t of this.trackers.values()) n += t.pendingCount();
    return n;
  }

  /** Gives delivery `graceMs` to finish, then stops it; undelivered calls stay in the outboxes. */
  async close(graceMs = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush(graceMs).catch(() => undefined);
    await Promise.all([...this.trackers.values()].map((t) => t.close()));
    this.trackers.clear();
  }

  private uriOf(run: TrackedRun): string | undefined {
    return resolveTrackingUri(this.stateDir, run.uri);
  }

  // A run started by another worker (another outbox) is found again by key before logging to it.
  private attach(tracker: Tracker, run: TrackedRun): void {
    if (this.known(tracker, run.key)) return;
    if (run.parentKey && !this.known(tracker, run.parentKey)) {
      tracker.startRun({
        key: run.parentKey,
        name: run.parentName ?? run.experiment,
        experiment: run.experiment,
      });
    }
    tracker.startRun({ key: run.key, name: run.name, parentKey: run.parentKey, experiment: run.experiment });
  }

  private known(tracker: Tracker, key: string): boolean {
    try {
      tracker.setTags(key, {}); // throws for a run this outbox never saw started; enqueues nothing
      return true;
    } catch {
      return false;
    }
  }

  private guard(what: string, fn: (tracker: Tracker) => void, run: TrackedRun): void {
    const uri = this.uriOf(run);
    if (!uri) {
      this.warnOnce(
        'no-uri',
        'MLflow tracking is off: set MLFLOW_TRACKING_URI, tracking.uri in the spec, or run alignrun up.',
      );
      return;
    }
    try {
      fn(this.trackerFor(uri));
    } catch (err) {
      this.warn(`could not ${what} in MLflow (the run goes on): ${(err as Error).message}`);
    }
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.warn(message);
  }

  private gitCommit(): string | undefined {
    if (this.commit === null) this.commit = gitCommit();
    return this.commit;
  }
}
