// Inter-rater agreement: Fleiss' kappa (every item rated by the same number of raters) and
// Krippendorff's alpha for nominal data (any number of raters per item, missing values allowed).
import type { Label } from './types';

/**
 * Fleiss' kappa from a count table: counts[i][j] = raters who put item i in category j. Every
 * row must sum to the same n ≥ 2. NaN when chance agreement is already perfect (one category).
 */
export function fleissKappa(counts: number[][]): number {
  if (counts.length === 0) throw new Error('Fleiss kappa needs at least one item.');
  const k = counts[0].length;
  const n = counts[0].reduce((a, b) => a + b, 0);
  counts.forEach((row, i) => {
    const sum = row.reduce((a, b) => a + b, 0);
    if (row.length !== k)
      throw new Error(`Fleiss kappa: item ${i + 1} has ${row.length} categories, item 1 has ${k}.`);
    if (row.some((c) => !Number.isInteger(c) || c < 0)) {
      throw new Error(`Fleiss kappa: item ${i + 1} has a count that is not a whole number ≥ 0.`);
    }
    if (sum !== n) {
      throw new Error(
        `Fleiss kappa: item ${i + 1} has ${sum} ratings, item 1 has ${n}; use Krippendorff's alpha.`,
      );
    }
  });
  if (n < 2) throw new Error('Fleiss kappa needs at least 2 ratings per item.');
  const N = counts.length;
  const pBar =
    counts.reduce((acc, row) => acc + (row.reduce((a, c) => a + c * c, 0) - n) / (n * (n - 1)), 0) / N;
  let pe = 0;
  for (let j = 0; j < k; j++) {
    const pj = counts.reduce((a, row) => a + row[j], 0) / (N * n);
    pe += pj * pj;
  }
  return (pBar - pe) / (1 - pe);
}

type Value = string | null | undefined;

/**
 * Krippendorff's alpha, nominal metric. units[u] holds the values the raters gave unit u;
 * null/undefined entries are missing and units with fewer than two values are ignored.
 * NaN when there is no variation at all to disagree about.
 */
export function krippendorffAlpha(units: Value[][]): number {
  // Coincidence counts: each ordered pair of values within a unit adds 1 / (m_u - 1).
  const o = new Map<string, Map<string, number>>();
  const add = (c: string, k: string, w: number) => {
    const row = o.get(c) ?? new Map<string, number>();
    row.set(k, (row.get(k) ?? 0) + w);
    o.set(c, row);
  };
  for (const unit of units) {
    const vals = unit.filter((v): v is string => v !== null && v !== undefined);
    const m = vals.length;
    if (m < 2) continue;
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) if (i !== j) add(vals[i], vals[j], 1 / (m - 1));
  }
  const nc = new Map<string, number>();
  for (const [c, row] of o)
    nc.set(
      c,
      [...row.values()].reduce((a, b) => a + b, 0),
    );
  const n = [...nc.values()].reduce((a, b) => a + b, 0);
  let observed = 0;
  for (const [c, row] of o) for (const [k, w] of row) if (c !== k) observed += w;
  let expected = 0;
  for (const [c, a] of nc) for (const [k, b] of nc) if (c !== k) expected += a * b;
  if (expected === 0) return NaN;
  return 1 - ((n - 1) * observed) / expected;
}

export interface TaskAgreement {
  /** Images with at least two good/bad labels. */
  items: number;
  raters: number;
  alpha: number;
  /** Only when every such image has the same number of good/bad labels. */
  kappa: number | null;
}

/** Agreement on good/bad among a task's labels; skips are treated as missing. */
export function labelAgreement(labels: Label[]): TaskAgreement {
  const byImage = new Map<string, string[]>();
  for (const l of labels) {
    if (l.value === 'skip') continue;
    byImage.set(l.image, [...(byImage.get(l.image) ?? []), l.value]);
  }
  const units = [...byImage.values()].filter((v) => v.length >= 2);
  const sizes = new Set(units.map((u) => u.length));
  const kappa =
    units.length > 0 && sizes.size === 1
      ? fleissKappa(
          units.map((u) => [u.filter((v) => v === 'good').length, u.filter((v) => v === 'bad').length]),
        )
      : null;
  return {
    items: units.length,
    raters: new Set(labels.filter((l) => l.value !== 'skip').map((l) => l.rater)).size,
    alpha: krippendorffAlpha(units),
    kappa,
  };
}
