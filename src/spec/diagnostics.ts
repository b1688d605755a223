// A problem found in a spec file, located at file:line:col (1-based) so editors can jump to it.

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  /** Dotted path in the spec ('stages.reward.lambda'), empty for the document itself. */
  path: string;
  /** What is wrong, in one sentence. */
  message: string;
  /** What to do about it, when there is something useful to say. */
  hint?: string;
  /** Warnings do not fail validation (e.g. a model folder that exists only on the GPU machine). */
  severity?: 'warning';
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.path ? `${d.path}: ` : '';
  const hint = d.hint ? ` (${d.hint})` : '';
  const level = d.severity === 'warning' ? 'warning: ' : '';
  return `${d.file}:${d.line}:${d.col}: ${level}${where}${d.message}${hint}`;
}

/** Sorts by position so output reads top to bottom, and drops exact repeats. */
export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return [...ds]
    .sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col)
    .filter((d) => {
      const k = formatDiagnostic(d);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
}

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** The closest candidate within a small edit distance, formatted as a hint, or undefined. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return best !== undefined && bestD <= limit && best !== word ? `did you mean '${best}'?` : undefined;
}

export function isError(d: Diagnostic): boolean {
  return d.severity !== 'warning';
}
