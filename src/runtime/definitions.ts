// Queries, signals, search attributes and default task queues, defined once for workflows and
// clients alike. The workflow bundle loads this file: it must stay deterministic (no Node APIs).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { MetricReport, SweepProgress, TrialProgress } from './protocol';

export const progressQuery = defineQuery<TrialProgress | SweepProgress>('progress');
export const reportMetricSignal = defineSignal<[MetricReport]>('reportMetric');

export const experimentKey = defineSearchAttributeKey('AlignrunExperiment', SearchAttributeType.KEYWORD);
export const statusKey = defineSearchAttributeKey('AlignrunStatus', SearchAttributeType.KEYWORD);
export const planHashKey = defineSearchAttributeKey('AlignrunPlanHash', SearchAttributeType.KEYWORD);

export const DEFAULT_QUEUES = { cpu: 'cpu', gpu: 'gpu' } as const;
