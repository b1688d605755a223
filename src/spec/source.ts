// Loads a spec file as YAML while keeping source positions, so every later check can report
// file:line:col. YAML problems (tabs, duplicate keys, bad indentation) become diagnostics too.
import { readFileSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { Diagnostic } from './diagnostics';

export interface SpecSource {
  file: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** The plain JS value, or undefined when the YAML could not be parsed. */
  value: unknown;
}

export type PathSegment = string | number;

export function loadSpecSource(
  file: string,
  text?: string,
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
      return { diagnostics: [{ file, line: 1, col: 1, path: '', message: `cannot read spec: ${why}` }] };
    }
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    uniqueKeys: true,
    prettyErrors: false,
    merge: false,
  });
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
  const value = doc.toJS({ maxAliasCount: 100 });
  if (value === null || value === undefined) {
    return {
      diagnostics: [
        {
          file,
          line: 1,
          col: 1,
          path: '',
          message: 'the spec is empty',
          hint: 'start from a file in experiments/',
        },
      ],
    };
  }
  return { source: { file, text, doc, lines, value }, diagnostics: [] };
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
): { line: number; col: number } {
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
  const offset = at?.range?.[0] ?? 0;
  const pos = src.lines.linePos(offset);
  return { line: pos.line, col: pos.col };
}

export function pathToString(path: PathSegment[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}
