// The stage kinds that exist only for tests and benchmarks of the orchestration (TestStageKind in
// src/spec/plan.ts): workers the tests start register them besides the spec's (`extraStages`).
import type { StageImplementation } from '../../../src/runtime/stage';
import type { TestStageKind } from '../../../src/spec/plan';
import { counter } from './counter';
import { noop } from './noop';
import { sleep } from './sleep';

export const testStages: Record<TestStageKind, StageImplementation> = { noop, sleep, counter };
