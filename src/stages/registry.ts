// Every stage kind a spec can name, by kind: the implementation each worker registers as the
// activity of that type (activity type = kind, see src/runtime/activities.ts).
import type { StageImplementation } from '../runtime/stage';
import type { StageKind } from '../spec/plan';
import { run as evaluate } from './evaluate';
import { run as finetune } from './finetune';
import { run as generate } from './generate';
import { run as label } from './label';
import { run as pretrain } from './pretrain';
import { run as prompts } from './prompts';
import { run as reward } from './reward';

export const stageRegistry: Record<StageKind, StageImplementation> = {
  prompts,
  generate,
  label,
  reward,
  finetune,
  evaluate,
  pretrain,
};
