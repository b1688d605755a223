// Queries, signals and search attributes, defined once for workflows and clients alike.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { MetricReport, SweepProgress, TrialProgress } from './types';

export const progressQuery = defineQuery<TrialProgress | SweepProgress>('progress');
export const reportMetricSignal = defineSignal<[MetricReport]>('reportMetric');

export const experimentKey = defineSearchAttributeKey('AlignrunExperiment', SearchAttributeType.KEYWORD);
export const statusKey = defineSearchAttributeKey('AlignrunStatus', SearchAttributeType.KEYWORD);
export const planHashKey = defineSearchAttributeKey('AlignrunPlanHash', SearchAttributeType.KEYWORD);

export const DEFAULT_QUEUES = { cpu: 'cpu', gpu: 'gpu' } as const;
