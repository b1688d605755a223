/**
 * Public types of the synthetic shapes domain and the project-wide image convention.
 */

/**
 * An image in the diffusion model's pixel space: 3×H×W, channel-first (CHW), RGB,
 * values in [-1, 1]. `data[c * height * width + y * width + x]`.
 */
export interface Image {
  width: number;
  height: number;
  data: Float32Array;
}

export const SHAPES = ['circle', 'square', 'triangle'] as const;
export type Shape = (typeof SHAPES)[number];

/** Colours an object may have: saturated and far apart so the judge separates them under noise and blur. */
export const OBJECT_COLORS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'] as const;
export type ObjectColor = (typeof OBJECT_COLORS)[number];

/** Colours a background may have: every object colour plus three neutrals. */
export const BACKGROUND_COLORS = [...OBJECT_COLORS, 'white', 'black', 'gray'] as const;
export type ColorName = (typeof BACKGROUND_COLORS)[number];

/** The background a prompt gets when it does not name one. */
export const NEUTRAL_BACKGROUND: ColorName = 'white';

/** How many objects a prompt may ask for. */
export const COUNTS = [1, 2, 3, 4] as const;

export const PROMPT_CATEGORIES = ['color', 'count', 'background', 'combination'] as const;
/** Which failure mode of text-to-image models a prompt probes (the paper's categories). */
export type PromptCategory = (typeof PROMPT_CATEGORIES)[number];

/**
 * A prompt of the domain in structured form. Attributes left out are free: the renderer
 * picks them and the judge ignores them. `count` is always constrained ("a red circle"
 * means exactly one).
 */
export interface ShapePrompt {
  category: PromptCategory;
  shape: Shape;
  /** Object colour; absent = any colour. */
  color?: ObjectColor;
  count: number;
  /** Background colour; absent = the neutral background, not checked. */
  background?: ColorName;
  /** The canonical English text, e.g. "two green circles on a yellow background". */
  text: string;
}

/** Whether a prompt uses only attribute combinations seen in training, or a held-out one. */
export type PromptSplit = 'seen' | 'unseen';

/** A prompt produced by `generatePrompts`, with a stable id and its split. */
export interface GeneratedPrompt extends ShapePrompt {
  /** Stable, readable id derived from the text, e.g. "two-green-circles-on-a-yellow-background". */
  id: string;
  split: PromptSplit;
}

/** One object the judge found in an image. */
export interface FoundObject {
  color: ColorName;
  shape: Shape;
  /** Area in pixels. */
  area: number;
}

/**
 * The checks an image can fail to be well formed: the border is not one background colour, no
 * object or more than four, too many specks, an object that fits no shape, an object of mixed
 * colour.
 */
export const MALFORMED_CHECKS = [
  'border',
  'no_object',
  'too_many_objects',
  'debris',
  'shape_fit',
  'colour_mix',
] as const;
export type MalformedCheck = (typeof MALFORMED_CHECKS)[number];

/**
 * The judge's verdict on one image for one prompt. An attribute is `null` when the
 * prompt does not constrain it.
 */
export interface Judgement {
  background: boolean | null;
  count: boolean | null;
  color: boolean | null;
  shape: boolean | null;
  /** Every constrained attribute is correct. */
  aligned: boolean;
  /** The image looks like a valid shapes image: uniform background and 1–4 clean objects. */
  wellFormed: boolean;
  /** The checks it fails (empty when well formed). */
  malformed: MalformedCheck[];
  found: { background: ColorName | null; objects: FoundObject[] };
}
