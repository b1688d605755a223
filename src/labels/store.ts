// The label store: tasks, their images, raters, labels and the outbox of changes to forward, in
// one SQLite file. Every change to labels and its outbox event commit in one transaction, so
// what was acknowledged is exactly what will be forwarded.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { SCHEMA, SCHEMA_VERSION } from './schema';
import {
  LABEL_VALUES,
  LabelError,
  type Label,
  type LabelEvent,
  type LabelValue,
  type Progress,
  type Rater,
  type TaskImage,
  type TaskInfo,
  type TaskInput,
} from './types';
import { checkTaskInput, sameTask } from './task-input';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
export const RATER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface RecordLabelInput {
  task: string;
  image: string;
  rater: string;
  value: LabelValue;
}

export interface RecordResult {
  label: Label;
  /** False when the same value was already stored for this (task, image, rater). */
  changed: boolean;
}

type Row = Record<string, any>;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

const now = () => new Date().toISOString();

export class LabelStore {
  readonly db: Database.Database;
  /** Random per database; prefixes event ids so two stores never produce the same id. */
  readonly storeId: string;
  private listeners = new Set<() => void>();
  private statements = new Map<string, Database.Statement>();
  /** db.prepare, compiled once per SQL text: compiling costs more than running these small queries. */
  private sql: Database.Database['prepare'] = ((source: string) => {
    let s = this.statements.get(source);
    if (!s) this.statements.set(source, (s = this.db.prepare(source)));
    return s;
  }) as Database.Database['prepare'];

  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    // FULL, not NORMAL: in WAL mode NORMAL already survives a killed process (the commit is in
    // the OS page cache), but only FULL also survives an OS crash or power loss. A label is a
    // person's work and is acknowledged to them. The fsync costs 0.1-5 ms per commit on this
    // machine (load-dependent), which the server amortises by committing concurrent labels together.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    // The CLI and a running server may open the same file; wait instead of failing at once.
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    const get = this.sql<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
    const version = get.get('schema_version')?.value;
    if (version !== undefined && Number(version) !== SCHEMA_VERSION) {
      throw new LabelError(
        'invalid',
        `${path} has label schema version ${version}, this alignrun expects ${SCHEMA_VERSION}.`,
      );
    }
    const put = this.sql('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)');
    put.run('schema_version', String(SCHEMA_VERSION));
    put.run('store_id', randomBytes(6).toString('hex'));
    this.storeId = get.get('store_id')!.value;
  }

  close(): void {
    this.listeners.clear();
    this.db.close();
  }

  /** Called after each commit that added outbox events (in this process). */
  onEvent(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  // ---- tasks ----

  /** Publishes a task. Publishing the same task again is a no-op (activity retries); a different one with the same id is refused. */
  publishTask(input: TaskInput): TaskInfo {
    const task = checkTaskInput(input, ID);
    return this.db
      .transaction(() => {
        const existing = this.getTask(task.id);
        if (existing) {
          if (!sameTask(existing, this.taskImages(task.id), task)) {
            throw new LabelError(
              'conflict',
              `Task '${task.id}' already exists with different content; publish under a new id.`,
            );
          }
          return existing;
        }
        this.sql(
          'INSERT INTO tasks (id, experiment, title, status, quorum, created) VALUES (?, ?, ?, ?, ?, ?)',
        ).run(task.id, task.experiment, task.title, 'open', task.quorum, now());
        const ins = this.sql(
          'INSERT INTO task_images (task, image, ord, prompt, path, category, split) VALUES (?, ?, ?, ?, ?, ?, ?)',
        );
        task.images.forEach((im, i) =>
          ins.run(task.id, im.id, i, im.prompt, im.path, im.category ?? null, im.split ?? null),
        );
        return this.getTask(task.id)!;
      })
      .immediate();
  }

  closeTask(id: string): TaskInfo {
    const r = this.sql("UPDATE tasks SET status = 'closed' WHERE id = ?").run(id);
    if (r.changes === 0) throw new LabelError('not_found', `There is no task '${id}'.`);
    return this.getTask(id)!;
  }

  getTask(id: string): TaskInfo | undefined {
    return this.sql<[string], TaskInfo>('SELECT * FROM tasks WHERE id = ?').get(id);
  }

  openTasks(): TaskInfo[] {
    return this.sql<[], TaskInfo>("SELECT * FROM tasks WHERE status = 'open' ORDER BY created, id").all();
  }

  taskImages(task: string): TaskImage[] {
    return this.sql<[string], TaskImage>(
      'SELECT image AS id, prompt, path, category, split FROM task_images WHERE task = ? ORDER BY ord',
    ).all(task);
  }

  getImage(task: string, image: string): TaskImage | undefined {
    return this.sql<[string, string], TaskImage>(
      'SELECT image AS id, prompt, path, category, split FROM task_images WHERE task = ? AND image = ?',
    ).get(task, image);
  }

  // ---- raters ----

  /** Adds a rater and returns their token; only its hash is stored, so this is the one chance to see it. */
  addRater(name: string): { rater: Rater; token: string } {
    if (typeof name !== 'string' || !RATER_NAME.test(name)) {
      throw new LabelError(
        'invalid',
        `Rater name '${String(name)}' is not valid: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit.`,
      );
    }
    if (this.findRater(name)) throw new LabelError('conflict', `A rater named '${name}' already exists.`);
    const token = randomBytes(24).toString('base64url');
    const id = 'r-' + randomBytes(6).toString('hex');
    this.sql('INSERT INTO raters (id, name, token_hash, revoked, created) VALUES (?, ?, ?, 0, ?)').run(
      id,
      name,
      hashToken(token),
      now(),
    );
    return { rater: this.findRater(name)!, token };
  }

  /** The rater with this name, creating one with an unusable token if absent (imported and simulated raters never log in). */
  ensureRater(name: string): Rater {
    return this.findRater(name) ?? this.addRater(name).rater;
  }

  listRaters(): Rater[] {
    return this.sql<[], Row>('SELECT * FROM raters ORDER BY created, name').all().map(toRater);
  }

  /** Finds a rater by name or id. */
  findRater(nameOrId: string): Rater | undefined {
    const r = this.sql<[string, string], Row>('SELECT * FROM raters WHERE name = ? OR id = ?').get(
      nameOrId,
      nameOrId,
    );
    return r && toRater(r);
  }

  /** The rater a token belongs to, revoked or not (the caller decides what revoked means), or undefined. */
  raterForToken(token: string): Rater | undefined {
    const r = this.sql<[string], Row>('SELECT * FROM raters WHERE token_hash = ?').get(hashToken(token));
    return r && toRater(r);
  }

  revokeRater(nameOrId: string): Rater {
    const rater = this.findRater(nameOrId);
    if (!rater) throw new LabelError('not_found', `There is no rater '${nameOrId}'.`);
    this.sql('UPDATE raters SET revoked = 1 WHERE id = ?').run(rater.id);
    return { ...rater, revoked: true };
  }

  // ---- labels ----

  /** Stores a label, replacing the rater's earlier answer for this image. Returns once committed. */
  recordLabel(input: RecordLabelInput): RecordResult {
    const result = this.db.transaction(() => this.recordInTx(input)).immediate();
    if (result.changed) this.notify();
    return result;
  }

  /** Stores many labels in one transaction: all or none. */
  recordLabels(inputs: RecordLabelInput[]): RecordResult[] {
    const results = this.db.transaction(() => inputs.map((i) => this.recordInTx(i))).immediate();
    if (results.some((r) => r.changed)) this.notify();
    return results;
  }

  /**
   * Stores each label independently but in one commit (one fsync): a refused label is rolled
   * back to its own savepoint and reported in its slot, the others still commit.
   */
  recordLabelsEach(inputs: RecordLabelInput[]): (RecordResult | LabelError)[] {
    const one = this.db.transaction((i: RecordLabelInput) => this.recordInTx(i));
    const results = this.db
      .transaction(() =>
        inputs.map((i) => {
          try {
            return one(i);
          } catch (err) {
            if (err instanceof LabelError) return err;
            throw err;
          }
        }),
      )
      .immediate();
    if (results.some((r) => !(r instanceof LabelError) && r.changed)) this.notify();
    return results;
  }

  private recordInTx({ task, image, rater, value }: RecordLabelInput): RecordResult {
    if (!LABEL_VALUES.includes(value)) {
      throw new LabelError('invalid', `Label value '${String(value)}' is not one of good, bad, skip.`);
    }
    const t = this.getTask(task);
    if (!t) throw new LabelError('not_found', `There is no task '${task}'.`);
    if (t.status !== 'open')
      throw new LabelError('closed', `Task '${task}' is closed and takes no more labels.`);
    if (!this.getImage(task, image))
      throw new LabelError('not_found', `Task '${task}' has no image '${image}'.`);
    const r = this.findRater(rater);
    if (!r || r.id !== rater) throw new LabelError('not_found', `There is no rater with id '${rater}'.`);
    if (r.revoked) throw new LabelError('forbidden', `Rater '${r.name}' has been revoked.`);
    const old = this.sql<[string, string, string], Label>(
      'SELECT * FROM labels WHERE task = ? AND image = ? AND rater = ?',
    ).get(task, image, rater);
    if (old && old.value === value) return { label: old, changed: false };
    if (old) this.sql('DELETE FROM labels WHERE seq = ?').run(old.seq);
    const at = now();
    const ins = this.sql(
      'INSERT INTO labels (task, image, rater, value, created) VALUES (?, ?, ?, ?, ?)',
    ).run(task, image, rater, value, at);
    this.addEvent('label', task, image, rater, value, at);
    return {
      label: { task, image, rater, value, created: at, seq: Number(ins.lastInsertRowid) },
      changed: true,
    };
  }

  /** Withdraws the rater's most recent label in the task; returns it, or undefined when there is none. */
  undoLast(rater: string, task: string): Label | undefined {
    const removed = this.db
      .transaction(() => {
        const t = this.getTask(task);
        if (!t) throw new LabelError('not_found', `There is no task '${task}'.`);
        if (t.status !== 'open')
          throw new LabelError('closed', `Task '${task}' is closed; its labels are final.`);
        const last = this.sql<[string, string], Label>(
          'SELECT * FROM labels WHERE rater = ? AND task = ? ORDER BY seq DESC LIMIT 1',
        ).get(rater, task);
        if (!last) return undefined;
        this.sql('DELETE FROM labels WHERE seq = ?').run(last.seq);
        this.addEvent('retract', task, last.image, rater, null, now());
        return last;
      })
      .immediate();
    if (removed) this.notify();
    return removed;
  }

  labels(task: string): Label[] {
    return this.sql<[string], Label>('SELECT * FROM labels WHERE task = ? ORDER BY seq').all(task);
  }

  progress(task: string): Progress {
    const t = this.getTask(task);
    if (!t) throw new LabelError('not_found', `There is no task '${task}'.`);
    const total = this.sql<[string], { n: number }>(
      'SELECT count(*) AS n FROM task_images WHERE task = ?',
    ).get(task)!.n;
    const complete = this.sql<[string, number], { n: number }>(
      `SELECT count(*) AS n FROM (SELECT image FROM labels WHERE task = ? AND value != 'skip'
         GROUP BY image HAVING count(*) >= ?)`,
    ).get(task, t.quorum)!.n;
    const perRater = this.sql<[string], { rater: string; name: string; labelled: number }>(
      `SELECT l.rater AS rater, r.name AS name, count(*) AS labelled FROM labels l JOIN raters r ON r.id = l.rater
         WHERE l.task = ? GROUP BY l.rater ORDER BY r.name`,
    ).all(task);
    return { task, total, complete, quorum: t.quorum, perRater };
  }

  /**
   * The next image for this rater: one they have not answered, preferring images still short of
   * quorum, in publication order. Undefined when they have answered every image.
   */
  nextImageFor(rater: string, task: string): TaskImage | undefined {
    const t = this.getTask(task);
    if (!t) throw new LabelError('not_found', `There is no task '${task}'.`);
    return this.sql<{ task: string; rater: string; quorum: number }, TaskImage>(
      `SELECT ti.image AS id, ti.prompt, ti.path, ti.category, ti.split FROM task_images ti
         LEFT JOIN (SELECT image, count(*) AS n FROM labels WHERE task = @task AND value != 'skip' GROUP BY image) c
           ON c.image = ti.image
         WHERE ti.task = @task AND NOT EXISTS
           (SELECT 1 FROM labels l WHERE l.task = ti.task AND l.image = ti.image AND l.rater = @rater)
         ORDER BY coalesce(c.n, 0) >= @quorum, ti.ord LIMIT 1`,
    ).get({ task, rater, quorum: t.quorum });
  }

  /** Every label of the task with its image metadata, one JSON object per line, in label order. */
  exportJsonl(task: string): string {
    if (!this.getTask(task)) throw new LabelError('not_found', `There is no task '${task}'.`);
    const rows = this.sql<[string], Row>(
      `SELECT l.task, l.image, ti.prompt, ti.path, ti.category, ti.split, l.rater, r.name AS rater_name,
                l.value, l.created, l.seq
         FROM labels l JOIN task_images ti ON ti.task = l.task AND ti.image = l.image JOIN raters r ON r.id = l.rater
         WHERE l.task = ? ORDER BY l.seq`,
    ).all(task);
    return rows.map((r) => JSON.stringify(r) + '\n').join('');
  }

  // ---- outbox ----

  private addEvent(
    kind: LabelEvent['kind'],
    task: string,
    image: string,
    rater: string,
    value: LabelValue | null,
    at: string,
  ) {
    this.sql('INSERT INTO outbox (kind, task, image, rater, value, at) VALUES (?, ?, ?, ?, ?, ?)').run(
      kind,
      task,
      image,
      rater,
      value,
      at,
    );
  }

  /** The oldest events not yet acknowledged, in the order they were accepted. */
  pendingEvents(limit: number): LabelEvent[] {
    return this.sql<[number], Row>('SELECT * FROM outbox ORDER BY seq LIMIT ?')
      .all(limit)
      .map((r) => ({
        id: `${this.storeId}-${r.seq}`,
        store: this.storeId,
        seq: r.seq,
        kind: r.kind,
        task: r.task,
        image: r.image,
        rater: r.rater,
        value: r.value,
        at: r.at,
      }));
  }

  pendingCount(): number {
    return this.sql<[], { n: number }>('SELECT count(*) AS n FROM outbox').get()!.n;
  }

  /** Drops events the receiver has acknowledged. */
  ackEvents(events: Pick<LabelEvent, 'seq'>[]): void {
    const del = this.sql('DELETE FROM outbox WHERE seq = ?');
    this.db.transaction(() => events.forEach((e) => del.run(e.seq))).immediate();
  }
}

function toRater(r: Row): Rater {
  return { id: r.id, name: r.name, revoked: r.revoked === 1, created: r.created };
}

export function openLabelStore(path: string): LabelStore {
  return new LabelStore(path);
}
