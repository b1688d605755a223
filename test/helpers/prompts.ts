import type { ShapePrompt } from '../../src/domains/shapes/index';

/** The attributes that differ between two prompts (count only when it is the number of objects). */
export function differences(a: ShapePrompt, b: ShapePrompt): string[] {
  return (['shape', 'color', 'count', 'background'] as const).filter((k) => a[k] !== b[k]);
}
