// The flat list of gradient rules, by ONNX op type.
import type { GradRule } from './context';
import { convRules } from './conv';
import { elementwiseRules } from './elementwise';
import { matmulRules } from './matmul';
import { normRules } from './norm';
import { reduceRules } from './reduce';
import { shapeRules } from './shape';

export const RULES: Record<string, GradRule> = {
  ...elementwiseRules,
  ...matmulRules,
  ...convRules,
  ...normRules,
  ...reduceRules,
  ...shapeRules,
};

/** Ops whose outputs carry no gradient (shapes, comparisons, integer or random results). */
export const NO_GRADIENT = new Set([
  'Shape',
  'Size',
  'Constant',
  'ConstantOfShape',
  'Range',
  'EyeLike',
  'OneHot',
  'NonZero',
  'ArgMax',
  'ArgMin',
  'Equal',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'Not',
  'And',
  'Or',
  'Xor',
  'IsNaN',
  'IsInf',
  'Sign',
  'Floor',
  'Ceil',
  'Round',
  'RandomNormal',
  'RandomNormalLike',
  'RandomUniform',
  'RandomUniformLike',
  'Multinomial',
  'Bernoulli',
]);
