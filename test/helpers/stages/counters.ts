// A record of real stage executions (SQLite under the state folder): tests and benchmarks count
// how often a stage actually ran and when, across worker processes and crashes.
import Database from 'better-sqlite3';
import path from 'node:path';
import { mkdirSync } from 'node:fs';

export interface Execution {
  id: number;
  key: string;
  stage: string;
  trialId: string | null;
  attempt: number;
  /** The step the attempt started from (a resumed `sleep` starts past 0). */
  startStep: number;
  startedAt: number;
  endedAt: number | null;
  outcome: 'done' | 'failed' | 'cancelled' | null;
  pid: number;
}

export class CounterStore {
  private db: Database.Database;

  constructor(file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS executions (
      id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, stage TEXT NOT NULL, trial_id TEXT,
      attempt INTEGER NOT NULL, start_step INTEGER NOT NULL, started_at INTEGER NOT NULL,
      ended_at INTEGER, outcome TEXT, pid INTEGER NOT NULL)`);
  }

  static forState(stateDir: string): CounterStore {
    return new CounterStore(path.join(stateDir, 'counters.sqlite'));
  }

  begin(e: { key: string; stage: string; trialId?: string; attempt: number; startStep?: number }): number {
    const r = this.db
      .prepare(
        'INSERT INTO executions (key, stage, trial_id, attempt, start_step, started_at, pid) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(e.key, e.stage, e.trialId ?? null, e.attempt, e.startStep ?? 0, Date.now(), process.pid);
    return Number(r.lastInsertRowid);
  }

  end(id: number, outcome: 'done' | 'failed' | 'cancelled'): void {
    this.db
      .prepare('UPDATE executions SET ended_at = ?, outcome = ? WHERE id = ?')
      .run(Date.now(), outcome, id);
  }

  executions(filter: { stage?: string; key?: string } = {}): Execution[] {
    const rows = this.db
      .prepare(
        `SELECT id, key, stage, trial_id AS trialId, attempt, start_step AS startStep, started_at AS startedAt,
         ended_at AS endedAt, outcome, pid FROM executions
         WHERE (@stage IS NULL OR stage = @stage) AND (@key IS NULL OR key = @key) ORDER BY id`,
      )
      .all({ stage: filter.stage ?? null, key: filter.key ?? null });
    return rows as Execution[];
  }

  close(): void {
    this.db.close();
  }
}
