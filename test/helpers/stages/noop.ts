// Test stage: does nothing and returns `params.metrics` (orchestration tests and benchmarks).
import type { StageImplementation } from '../../../src/runtime/stage';

export const noop: StageImplementation = async (input) => ({
  artifacts: {},
  metrics: (input.instance.params.metrics as Record<string, number> | undefined) ?? {},
});
