// The value of a sweep objective in a trial's metrics (keyed `stage.metric`): the objective is
// `stage.metric`, or a bare metric name looked up in any stage's metrics (the last stage wins).
// Pure: used by the sweep workflow (best trial) and by `status` (trials table); the workflow
// bundle loads this file, so no Node APIs.
export function objectiveValue(
  metrics: Record<string, number> | undefined,
  metric: string,
): number | undefined {
  if (!metrics) return undefined;
  if (metric in metrics) return metrics[metric];
  const hits = Object.entries(metrics).filter(([k]) => k.endsWith(`.${metric}`));
  return hits.length ? hits[hits.length - 1][1] : undefined;
}
