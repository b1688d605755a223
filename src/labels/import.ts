// Imports labels collected elsewhere: JSONL ({"image","rater","value"} per line) or CSV
// (image,rater,value; header optional). All rows are checked first and reported as file:line;
// only a clean file is stored, in one transaction.
import { readFileSync } from 'node:fs';
import { RATER_NAME, type LabelStore } from './store';
import { LABEL_VALUES, LabelError, type LabelValue } from './types';

export type LabelFileFormat = 'jsonl' | 'csv';

export interface ImportedLabel {
  image: string;
  rater: string;
  value: LabelValue;
  line: number;
}

const MAX_REPORTED = 10;
const FIELDS = ['image', 'rater', 'value'] as const;

/** Splits one CSV line, honouring double quotes ("a,b" and "" inside quotes). */
function csvFields(line: string): string[] | null {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      out.push(field);
      field = '';
    } else field += ch;
  }
  if (quoted) return null;
  out.push(field);
  return out.map((f) => f.trim());
}

function rowFromJson(text: string): Record<string, unknown> | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'not valid JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'expected a JSON object';
  const extra = Object.keys(v).filter((k) => !(FIELDS as readonly string[]).includes(k));
  if (extra.length) return `unknown field '${extra[0]}' (a row has image, rater, value)`;
  return v as Record<string, unknown>;
}

function rowFromCsv(text: string): Record<string, unknown> | string {
  const f = csvFields(text);
  if (!f) return 'unclosed double quote';
  if (f.length !== 3) return `expected 3 fields image,rater,value, found ${f.length}`;
  return { image: f[0], rater: f[1], value: f[2] };
}

/** Parses a label file; throws one LabelError listing the first bad rows as file:line: problem. */
export function parseLabelFile(
  path: string,
  text = readFileSync(path, 'utf8'),
  /** The file's format; without it, from the extension, else from the first line. */
  format?: LabelFileFormat,
): ImportedLabel[] {
  const lines = text.split(/\r?\n/);
  const firstContent = lines.find((l) => l.trim() !== '')?.trim() ?? '';
  const jsonl =
    format === 'jsonl' ||
    (format !== 'csv' &&
      (/\.(jsonl|ndjson)$/i.test(path) || (!/\.csv$/i.test(path) && firstContent.startsWith('{'))));
  const rows: ImportedLabel[] = [];
  const errors: string[] = [];
  let first = true;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const isFirst = first;
    first = false;
    if (!jsonl && isFirst && /^image\s*,\s*rater\s*,\s*value$/i.test(line)) return;
    const row = jsonl ? rowFromJson(line) : rowFromCsv(line);
    const bad = (why: string) => errors.push(`${path}:${i + 1}: ${why}.`);
    if (typeof row === 'string') return bad(row);
    for (const k of FIELDS) {
      if (typeof row[k] !== 'string' || row[k] === '') return bad(`'${k}' must be a non-empty string`);
    }
    if (!RATER_NAME.test(row.rater as string)) {
      return bad(`rater '${row.rater}' is not a valid name (letters, digits, '_', '.', '-')`);
    }
    if (!LABEL_VALUES.includes(row.value as LabelValue)) {
      return bad(`value '${row.value}' is not one of ${LABEL_VALUES.join(', ')}`);
    }
    rows.push({
      image: row.image as string,
      rater: row.rater as string,
      value: row.value as LabelValue,
      line: i + 1,
    });
  });
  if (rows.length === 0 && errors.length === 0) errors.push(`${path}: the file has no label rows.`);
  if (errors.length) throw importError(errors);
  return rows;
}

function importError(errors: string[]): LabelError {
  const shown = errors.slice(0, MAX_REPORTED).join('\n');
  const more = errors.length > MAX_REPORTED ? `\n(and ${errors.length - MAX_REPORTED} more)` : '';
  return new LabelError('invalid', `${shown}${more}`);
}

/** Imports a label file into a task; raters are created by name as needed. Nothing is stored unless every row is good. */
export function importLabels(
  store: LabelStore,
  task: string,
  path: string,
  format?: LabelFileFormat,
): { imported: number; raters: string[] } {
  const rows = parseLabelFile(path, undefined, format);
  if (!store.getTask(task)) throw new LabelError('not_found', `There is no task '${task}'.`);
  const known = new Set(store.taskImages(task).map((im) => im.id));
  const seen = new Map<string, ImportedLabel>();
  const errors: string[] = [];
  for (const r of rows) {
    if (!known.has(r.image)) errors.push(`${path}:${r.line}: task '${task}' has no image '${r.image}'.`);
    const key = `${r.image}\u0000${r.rater}`;
    const before = seen.get(key);
    if (before && before.value !== r.value) {
      errors.push(
        `${path}:${r.line}: rater '${r.rater}' already labelled '${r.image}' ${before.value} on line ${before.line}.`,
      );
    }
    seen.set(key, r);
  }
  if (errors.length) throw importError(errors);
  const names = [...new Set(rows.map((r) => r.rater))];
  // Raters first, then all labels in one transaction: a failure leaves no partial import.
  store.db.transaction(() => {
    const ids = new Map(names.map((n) => [n, store.ensureRater(n).id]));
    store.recordLabels(rows.map((r) => ({ task, image: r.image, rater: ids.get(r.rater)!, value: r.value })));
  })();
  return { imported: rows.length, raters: names };
}
