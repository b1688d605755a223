// Loads a spec file as YAML while keeping source positions, so every later check can report
// file:line:col. YAML problems (tabs, duplicate keys, bad indentation) become diagnostics too.
import { readFileSync } from 'node:fs';
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type Node,
} from 'yaml';
import type { Diagnostic } from './diagnostics';

export interface SpecSource {
  file: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** The plain JS value, or undefined when the YAML could not be parsed. */
  value: unknown;
  /** `--set PATH=VALUE` overrides applied to the file, in order; diagnostics under one point at it. */
  overrides: AppliedOverride[];
}

export interface AppliedOverride {
  path: PathSegment[];
  /** The argument as given, `stages.reward.lambda=0.3`. */
  arg: string;
  /** 1-based column of the value in `arg`. */
  valueCol: number;
}

/** The pseudo file name diagnostics of an override carry: `--set stages.reward.lambda=x`. */
export const overrideFile = (arg: string) => `--set ${arg}`;

export type PathSegment = string | number;

export function loadSpecSource(
  file: string,
  text?: string,
  /** `PATH=VALUE` overrides (VALUE is YAML), applied after the file is read. */
  overrides: string[] = [],
): { source?: SpecSource; diagnostics: Diagnostic[] } {
  if (text === undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why =
        code === 'ENOENT'
          ? 'file not found'
          : code === 'EISDIR'
            ? 'is a directory, not a file'
            : String((e as Error).message);
      return atStart(file, `cannot read spec: ${why}`);
    }
  }
  if (Buffer.byteLength(text) > MAX_SPEC_BYTES) {
    const mib = (Buffer.byteLength(text) / 2 ** 20).toFixed(1);
    return atStart(
      file,
      `the spec is ${mib} MiB; alignrun reads specs of up to ${MAX_SPEC_BYTES / 2 ** 20} MiB`,
      'keep long lists (prompts, labels) in files the spec names',
    );
  }
  const lines = new LineCounter();
  const at = (offset: number, message: string, hint?: string) => {
    const pos = lines.linePos(offset);
    return { diagnostics: [{ file, line: pos.line, col: pos.col, path: '', message, hint }] };
  };
  let doc: Document.Parsed;
  try {
    // Duplicate keys are found below in linear time (the parser's own check is quadratic).
    doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false, merge: false });
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    return at(0, `YAML error: the spec nests too deeply to read (more than ${MAX_DEPTH} levels are refused)`);
  }
  // Only the first YAML error: the ones after it are mostly the parser recovering from it.
  const first = doc.errors[0];
  if (first) {
    const pos = lines.linePos(first.pos[0]);
    return {
      diagnostics: [
        { file, line: pos.line, col: pos.col, path: '', ...yamlMessage(first.code, first.message) },
      ],
    };
  }
  const applied: AppliedOverride[] = [];
  for (const arg of overrides) {
    const done = applyOverride(doc, arg);
    if ('diagnostics' in done) return done;
    applied.push(done);
  }
  const shape = checkShape(doc);
  if (shape) return at(shape.offset, shape.message, shape.hint);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    if (!(e instanceof ReferenceError || e instanceof RangeError)) throw e;
    const unresolved = firstAlias(doc, true);
    if (unresolved) {
      return at(
        unresolved.offset,
        `YAML error: alias '*${unresolved.name}' has no anchor '&${unresolved.name}' before it`,
        'define the anchor first, or write the value out',
      );
    }
    return at(
      firstAlias(doc)?.offset ?? 0,
      'YAML error: aliases expand to too much data (more than 100 expansions of one anchor)',
      'repeat the values, or use a sweep for variations',
    );
  }
  if (value === null || value === undefined) {
    return atStart(file, 'the spec is empty', 'start from a file in experiments/');
  }
  return { source: { file, text, doc, lines, value, overrides: applied }, diagnostics: [] };
}

/** Sets one `PATH=VALUE` override in `doc`, or says in one sentence why it cannot. */
function applyOverride(doc: Document.Parsed, arg: string): AppliedOverride | { diagnostics: Diagnostic[] } {
  const fail = (col: number, message: string, hint?: string) => ({
    diagnostics: [{ file: overrideFile(arg), line: 1, col, path: '', message, ...(hint ? { hint } : {}) }],
  });
  const eq = arg.indexOf('=');
  const dotted = eq < 0 ? arg : arg.slice(0, eq).trim();
  if (eq <= 0 || !/^[A-Za-z_][\w-]*(\.[\w-]+)*$/.test(dotted))
    return fail(
      1,
      'an override is PATH=VALUE with a dotted path into the spec',
      'e.g. --set stages.reward.lambda=0.3',
    );
  const valueCol = eq + 2;
  const value = parseDocument(arg.slice(eq + 1), { uniqueKeys: false, prettyErrors: false, merge: false });
  const error = value.errors[0];
  if (error) return fail(valueCol + error.pos[0], yamlMessage(error.code, error.message).message);
  const path = dotted.split('.').map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg));
  try {
    doc.setIn(path, doc.createNode(value.toJS({ maxAliasCount: 100 })));
  } catch {
    // An intermediate value is a scalar, so the path cannot go through it.
    return fail(1, `cannot set ${dotted}: a value on its path is neither a mapping nor a list`);
  }
  return { path, arg, valueCol };
}

/** A spec-wide problem, reported at the start of the file. */
function atStart(file: string, message: string, hint?: string): { diagnostics: Diagnostic[] } {
  return { diagnostics: [{ file, line: 1, col: 1, path: '', message, ...(hint ? { hint } : {}) }] };
}

/** Specs are hand-written files of a few KB: these bounds refuse hostile or runaway input in time. */
const MAX_SPEC_BYTES = 2 ** 20;
const MAX_DEPTH = 64;
const MAX_NODES = 100_000;

/**
 * One walk over the parsed document (iterative, so depth cannot overflow the stack): duplicate
 * keys (a Set per mapping), YAML merge keys, nesting depth and node count.
 */
function checkShape(doc: Document.Parsed): { offset: number; message: string; hint?: string } | undefined {
  const stack: { node: unknown; depth: number }[] = [{ node: doc.contents, depth: 1 }];
  let count = 0;
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (!isMap(node) && !isSeq(node)) continue;
    const offset = node.range?.[0] ?? 0;
    if (depth > MAX_DEPTH)
      return { offset, message: `YAML error: the spec nests more than ${MAX_DEPTH} levels deep` };
    count += node.items.length;
    if (count > MAX_NODES) {
      return {
        offset,
        message: `YAML error: the spec has more than ${MAX_NODES.toLocaleString('en-US')} entries`,
        hint: 'keep long lists (prompts, labels) in files the spec names',
      };
    }
    if (isSeq(node)) {
      for (const item of node.items) stack.push({ node: item, depth: depth + 1 });
      continue;
    }
    const seen = new Set<string>();
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      const keyOffset = (pair.key as Node | null)?.range?.[0] ?? offset;
      if (key === '<<' && isScalar(pair.key) && pair.key.source === '<<') {
        return {
          offset: keyOffset,
          message: 'YAML merge keys (<<) are not supported',
          hint: 'write the fields out, or vary them with a sweep',
        };
      }
      if (key !== undefined) {
        if (seen.has(key)) return { offset: keyOffset, ...yamlMessage('DUPLICATE_KEY', '') };
        seen.add(key);
      }
      stack.push({ node: pair.value, depth: depth + 1 });
    }
  }
  return undefined;
}

/**
 * The document's first alias, or with `unresolved` its first alias whose anchor does not come
 * before it (anchors are collected as the walk passes them, in document order).
 */
function firstAlias(doc: Document.Parsed, unresolved = false): { offset: number; name: string } | undefined {
  const anchors = new Set<string>();
  let found: { offset: number; name: string } | undefined;
  visit(doc, (_, node) => {
    if (isAlias(node)) {
      if (!unresolved || !anchors.has(node.source)) {
        found = { offset: node.range?.[0] ?? 0, name: node.source };
        return visit.BREAK;
      }
    } else if (node && typeof node === 'object' && 'anchor' in node && typeof node.anchor === 'string') {
      anchors.add(node.anchor);
    }
    return undefined;
  });
  return found;
}

function yamlMessage(code: string, raw: string): { message: string; hint?: string } {
  const first = raw
    .split('\n')[0]
    .replace(/ at line \d+, column \d+.*$/, '')
    .replace(/:$/, '');
  if (/^Flow (map|sequence)/.test(first)) {
    const what = first.startsWith('Flow map')
      ? "mapping '{ ... }' is not closed with '}'"
      : "list '[ ... ]' is not closed with ']'";
    return { message: `YAML error: a flow ${what}`, hint: 'check the line above' };
  }
  if (/Maximum call stack/.test(raw))
    return {
      message: `YAML error: the spec nests too deeply to read (more than ${MAX_DEPTH} levels are refused)`,
    };
  switch (code) {
    case 'DUPLICATE_KEY':
      return { message: 'YAML error: duplicate key', hint: 'each key may appear once in a mapping' };
    case 'TAB_AS_INDENT':
      return { message: 'YAML error: tab used for indentation', hint: 'indent with spaces' };
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
      return {
        message: 'YAML error: bad indentation after this value',
        hint: 'keys of one mapping must start at the same column',
      };
    case 'BAD_INDENT':
      return { message: `YAML error: bad indentation (${first})` };
    default:
      return { message: `YAML error: ${first}` };
  }
}

/**
 * Finds the source node for a path. With `key`, returns the mapping key of the last segment
 * (where "unknown field" belongs); otherwise the value node. Falls back to the deepest existing
 * ancestor so a diagnostic always has a position.
 */
export function locate(
  src: SpecSource,
  path: PathSegment[],
  opts: { key?: boolean } = {},
): { file?: string; line: number; col: number } {
  // Under an override, the override is the place to fix; a node an override created (no range in
  // the file) belongs to the override that created it.
  const under = src.overrides.find(
    (o) => o.path.length <= path.length && o.path.every((s, i) => String(s) === String(path[i])),
  );
  if (under) {
    const exact = under.path.length === path.length;
    return { file: overrideFile(under.arg), line: 1, col: exact && opts.key ? 1 : under.valueCol };
  }
  let node: Node | null = src.doc.contents as Node | null;
  let at: Node | null = node;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
      );
      if (!pair) break;
      if (last && opts.key) {
        at = pair.key as Node;
        break;
      }
      node = (pair.value as Node | null) ?? (pair.key as Node);
      at = node;
    } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
      node = node.items[seg] as Node;
      at = node;
    } else {
      break;
    }
  }
  const creator =
    !at?.range && src.overrides.find((o) => path.every((s, i) => String(s) === String(o.path[i])));
  if (creator) return { file: overrideFile(creator.arg), line: 1, col: 1 };
  const offset = at?.range?.[0] ?? 0;
  const pos = src.lines.linePos(offset);
  return { line: pos.line, col: pos.col };
}

export function pathToString(path: PathSegment[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}
