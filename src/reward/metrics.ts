/**
 * How well scores separate good from bad labels: accuracy at a threshold and ROC AUC, overall and
 * per group (prompt category, seen/unseen split).
 */

export interface Separation {
  n: number;
  /** Share of examples with (score >= threshold) === (label is good). */
  accuracy: number;
  /** Probability that a random good example outscores a random bad one (ties count half); null with one class. */
  auc: number | null;
  /** Mean score: where accuracy moves with it and AUC does not, the scores shifted, not their ranking. */
  meanScore: number;
  /** Share of examples labelled good (1 − this is the accuracy of calling every example bad). */
  goodShare: number;
}

/** Accuracy and AUC of `scores` against binary `labels` (1 good, 0 bad). */
export function separation(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  threshold = 0.5,
): Separation {
  const n = scores.length;
  let correct = 0;
  let sum = 0;
  let good = 0;
  for (let i = 0; i < n; i++) {
    if (scores[i] >= threshold === labels[i] >= 0.5) correct++;
    sum += scores[i];
    if (labels[i] >= 0.5) good++;
  }
  return {
    n,
    accuracy: n ? correct / n : NaN,
    auc: auc(scores, labels),
    meanScore: n ? sum / n : NaN,
    goodShare: n ? good / n : NaN,
  };
}

/** ROC AUC by the rank-sum (Mann-Whitney U) formula, average ranks for ties. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  const ranks = new Float64Array(order.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && scores[order[j + 1]] === scores[order[i]]) j++;
    for (let k = i; k <= j; k++) ranks[order[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length; i++) {
    if (labels[i] >= 0.5) {
      pos++;
      rankSum += ranks[i];
    }
  }
  const neg = order.length - pos;
  if (pos === 0 || neg === 0) return null;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Separation overall and for each value of each grouping key (e.g. category, split). */
export function separationByGroup(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  groups: Record<string, readonly (string | undefined)[]>,
): { all: Separation } & Record<string, Record<string, Separation>> {
  const out: Record<string, unknown> = { all: separation(scores, labels) };
  for (const [key, values] of Object.entries(groups)) {
    const byValue: Record<string, Separation> = {};
    for (const value of [...new Set(values)].filter((v): v is string => v !== undefined).sort()) {
      const idx = values.flatMap((v, i) => (v === value ? [i] : []));
      byValue[value] = separation(
        idx.map((i) => scores[i]),
        idx.map((i) => labels[i]),
      );
    }
    out[key] = byValue;
  }
  return out as { all: Separation } & Record<string, Record<string, Separation>>;
}
