// The durable outbox of tracking calls: every call is committed here (fsync'd) before the caller
// continues, and deleted only once MLflow has acknowledged it.
//
// SQLite (WAL, synchronous=FULL) rather than an fsync'd JSONL file: acknowledging a call is a
// DELETE instead of a rewrite of the log, several worker processes on one machine can append to
// the same file safely, artifact bytes sit in a BLOB column, and the run-key -> run-id map and a
// flusher lease live in the same transactional file.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KeyValue, Metric } from './batch';
import type { RunStatus } from './client';

export type TrackingOp =
  | {
      kind: 'startRun';
      runKey: string;
      experiment: string;
      name: string;
      parentKey?: string;
      params: KeyValue[];
      tags: KeyValue[];
      startTime: number;
      /** Set an ended run back to RUNNING when found again. */
      reopen?: boolean;
    }
  | {
      kind: 'logMetrics';
      runKey: string;
      metrics: Metric[];
      /** Who logs these points as curves (a stage instance's key): their ends are kept in `curves`. */
      source?: string;
    }
  | { kind: 'setTags'; runKey: string; tags: KeyValue[] }
  | { kind: 'logArtifact'; runKey: string; artifactPath: string; filePath?: string }
  | { kind: 'endRun'; runKey: string; status: RunStatus; endTime: number };

export interface PendingOp {
  seq: number;
  op: TrackingOp;
  /** Artifact bytes, for a logArtifact given bytes. */
  blob?: Buffer;
  attempts: number;
}

export interface DeadLetter {
  seq: number;
  runKey: string;
  kind: TrackingOp['kind'];
  error: string;
  failedAt: number;
}

export interface OutboxStatus {
  pending: number;
  dead: number;
  /** When the oldest unacknowledged call was made (ms since epoch). */
  oldestPendingAt?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ops (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  run_key TEXT NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  blob BLOB,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ops_run ON ops (run_key, kind);
CREATE TABLE IF NOT EXISTS runs (
  run_key TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  experiment_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dead (
  seq INTEGER PRIMARY KEY,
  run_key TEXT NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  error TEXT NOT NULL,
  failed_at INTEGER NOT NULL
);
-- The last step (and its value) each source logged of each metric to a run, kept after delivery:
-- a retried attempt skips the steps its predecessor logged, and a stage's summary finds its curve.
CREATE TABLE IF NOT EXISTS curves (
  run_key TEXT NOT NULL,
  source TEXT NOT NULL,
  metric TEXT NOT NULL,
  step INTEGER NOT NULL,
  value REAL,
  PRIMARY KEY (run_key, source, metric)
);
CREATE TABLE IF NOT EXISTS lease (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  owner TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
`;

export class Outbox {
  private readonly db: Database.Database;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // FULL: a call the caller saw return survives a power loss, not only a process crash.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
  }

  /** Commits a call; a logMetrics call with a `source` moves that source's curve ends with it. */
  append(op: TrackingOp, blob?: Uint8Array): number {
    return this.db.transaction(() => {
      const info = this.db
        .prepare('INSERT INTO ops (run_key, kind, payload, blob, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(op.runKey, op.kind, JSON.stringify(op), blob ? Buffer.from(blob) : null, Date.now());
      if (op.kind === 'logMetrics' && op.source !== undefined) {
        const end = this.db.prepare(
          'INSERT INTO curves (run_key, source, metric, step, value) VALUES (?, ?, ?, ?, ?) ' +
            'ON CONFLICT (run_key, source, metric) DO UPDATE SET step = excluded.step, value = excluded.value ' +
            'WHERE excluded.step >= curves.step',
        );
        // SQLite stores NaN as NULL; curveEnds reads it back as NaN.
        for (const m of op.metrics) end.run(op.runKey, op.source, m.key, m.step, m.value);
      }
      return Number(info.lastInsertRowid);
    })();
  }

  /** The last step `source` logged of each metric of the run, by metric. */
  curveSteps(runKey: string, source: string): Map<string, number> {
    const rows = this.db
      .prepare('SELECT metric, step FROM curves WHERE run_key = ? AND source = ?')
      .all(runKey, source) as { metric: string; step: number }[];
    return new Map(rows.map((r) => [r.metric, r.step]));
  }

  /** The last point of every source's curve of `metric` in the run. */
  curveEnds(runKey: string, metric: string): { step: number; value: number }[] {
    const rows = this.db
      .prepare('SELECT step, value FROM curves WHERE run_key = ? AND metric = ?')
      .all(runKey, metric) as { step: number; value: number | null }[];
    return rows.map((r) => ({ step: r.step, value: r.value ?? NaN }));
  }

  /** The oldest `limit` unacknowledged calls, in the order they were made. */
  peek(limit: number): PendingOp[] {
    const rows = this.db
      .prepare('SELECT seq, payload, blob, attempts FROM ops ORDER BY seq LIMIT ?')
      .all(limit) as { seq: number; payload: string; blob: Buffer | null; attempts: number }[];
    return rows.map((r) => ({
      seq: r.seq,
      op: JSON.parse(r.payload) as TrackingOp,
      blob: r.blob ?? undefined,
      attempts: r.attempts,
    }));
  }

  /** Removes calls the server acknowledged. */
  ack(seqs: number[]): void {
    const del = this.db.prepare('DELETE FROM ops WHERE seq = ?');
    this.db.transaction(() => seqs.forEach((s) => del.run(s)))();
  }

  /** Records a failed attempt that will be retried. */
  noteFailure(seqs: number[], error: string): void {
    const upd = this.db.prepare('UPDATE ops SET attempts = attempts + 1, last_error = ? WHERE seq = ?');
    this.db.transaction(() => seqs.forEach((s) => upd.run(error, s)))();
  }

  /** Moves calls the server refused for good to the dead-letter table (their bytes are dropped). */
  bury(seqs: number[], error: string): void {
    const move = this.db.prepare(
      'INSERT OR REPLACE INTO dead (seq, run_key, kind, payload, error, failed_at) ' +
        'SELECT seq, run_key, kind, payload, ?, ? FROM ops WHERE seq = ?',
    );
    const del = this.db.prepare('DELETE FROM ops WHERE seq = ?');
    const now = Date.now();
    this.db.transaction(() =>
      seqs.forEach((s) => {
        move.run(error, now, s);
        del.run(s);
      }),
    )();
  }

  pendingCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM ops').get() as { n: number }).n;
  }

  status(): OutboxStatus {
    const ops = this.db.prepare('SELECT count(*) AS n, min(created_at) AS oldest FROM ops').get() as {
      n: number;
      oldest: number | null;
    };
    const dead = (this.db.prepare('SELECT count(*) AS n FROM dead').get() as { n: number }).n;
    return { pending: ops.n, dead, oldestPendingAt: ops.oldest ?? undefined };
  }

  deadLetters(): DeadLetter[] {
    const rows = this.db
      .prepare('SELECT seq, run_key, kind, error, failed_at FROM dead ORDER BY seq')
      .all() as {
      seq: number;
      run_key: string;
      kind: TrackingOp['kind'];
      error: string;
      failed_at: number;
    }[];
    return rows.map((r) => ({
      seq: r.seq,
      runKey: r.run_key,
      kind: r.kind,
      error: r.error,
      failedAt: r.failed_at,
    }));
  }

  runId(runKey: string): string | undefined {
    const row = this.db.prepare('SELECT run_id FROM runs WHERE run_key = ?').get(runKey) as
      { run_id: string } | undefined;
    return row?.run_id;
  }

  recordRun(runKey: string, runId: string, experimentId: string): void {
    this.db
      .prepare('INSERT OR REPLACE INTO runs (run_key, run_id, experiment_id) VALUES (?, ?, ?)')
      .run(runKey, runId, experimentId);
  }

  /** True when the run was started: delivered already, or its start is still waiting here. */
  knowsRun(runKey: string): boolean {
    if (this.runId(runKey)) return true;
    return !!this.db.prepare("SELECT 1 FROM ops WHERE run_key = ? AND kind = 'startRun' LIMIT 1").get(runKey);
  }

  /**
   * Takes or renews the right to deliver calls, so that only one process sharing this outbox
   * sends at a time (which keeps each run's calls in order). Returns false when another live
   * process holds it.
   */
  tryLease(owner: string, ttlMs: number, isGone: (holder: string) => boolean = () => false): boolean {
    const now = Date.now();
    const holder = this.db.prepare('SELECT owner FROM lease WHERE id = 1').get() as
      { owner: string } | undefined;
    // A holder that died (same machine: the outbox is a local file) is replaced at once.
    if (holder && holder.owner !== owner && isGone(holder.owner)) {
      this.db.prepare('DELETE FROM lease WHERE id = 1 AND owner = ?').run(holder.owner);
    }
    const info = this.db
      .prepare(
        'INSERT INTO lease (id, owner, expires_at) VALUES (1, ?, ?) ' +
          'ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at ' +
          'WHERE lease.owner = excluded.owner OR lease.expires_at < ?',
      )
      .run(owner, now + ttlMs, now);
    return info.changes > 0;
  }

  releaseLease(owner: string): void {
    this.db.prepare('DELETE FROM lease WHERE owner = ?').run(owner);
  }

  close(): void {
    this.db.close();
  }
}

/** Reads an outbox's counts without taking part in delivery (for `alignrun status`). */
export function outboxStatus(path: string): OutboxStatus {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch {
    return { pending: 0, dead: 0 };
  }
  try {
    db.pragma('busy_timeout = 5000');
    const ops = db.prepare('SELECT count(*) AS n, min(created_at) AS oldest FROM ops').get() as {
      n: number;
      oldest: number | null;
    };
    const dead = (db.prepare('SELECT count(*) AS n FROM dead').get() as { n: number }).n;
    return { pending: ops.n, dead, oldestPendingAt: ops.oldest ?? undefined };
  } finally {
    db.close();
  }
}
