/**
 * The synthetic shapes domain: prompts about object colour, count and background, a
 * renderer of correct images, a programmatic judge that plays the human rater, and prompt
 * perturbation for the reward model's auxiliary task.
 */
export * from './types';
export {
  COUNT_WORDS,
  allPrompts,
  generatePrompts,
  makePrompt,
  parsePrompt,
  promptId,
  promptSplit,
  promptText,
  type GeneratePromptsOptions,
} from './prompts';
export { PALETTE, nearestColor, type Rgb } from './palette';
export { renderPrompt, solidImage, type RenderOptions } from './render';
export { analyzeImage, judge, verdict, type ImageAnalysis } from './judge';
export { perturbPrompt, perturbText } from './perturb';
