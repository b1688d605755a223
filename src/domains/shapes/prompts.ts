/**
 * The prompt language of the shapes domain: templates, parsing, the seen/unseen split and
 * deterministic prompt sets.
 *
 * Templates (one per category):
 *   color        "a red circle"
 *   count        "three squares", "one triangle"
 *   background   "a triangle on a blue background"
 *   combination  two or more of the above: "two green circles on a yellow background"
 */
import { createRng, type Seed } from '../../util/rng';
import {
  BACKGROUND_COLORS,
  COUNTS,
  OBJECT_COLORS,
  PROMPT_CATEGORIES,
  SHAPES,
  type ColorName,
  type GeneratedPrompt,
  type ObjectColor,
  type PromptCategory,
  type PromptSplit,
  type Shape,
  type ShapePrompt,
} from './types';

export const COUNT_WORDS = ['zero', 'one', 'two', 'three', 'four'] as const;

const PLURALS: Record<Shape, string> = { circle: 'circles', square: 'squares', triangle: 'triangles' };

/** Which attributes beyond the shape a prompt states. The count counts as stated when it is not the article "a". */
interface Stated {
  color: boolean;
  background: boolean;
  count: boolean;
}

function statedOf(p: Omit<ShapePrompt, 'text' | 'category'>, countWord: 'a' | 'number'): Stated {
  return {
    color: p.color !== undefined,
    background: p.background !== undefined,
    count: countWord === 'number',
  };
}

function categoryOf(stated: Stated): PromptCategory | null {
  const n = Number(stated.color) + Number(stated.background) + Number(stated.count);
  if (n === 0) return null;
  if (n > 1) return 'combination';
  return stated.color ? 'color' : stated.background ? 'background' : 'count';
}

/** Whether the prompt states its count as a number word (rather than the article "a"). */
function countIsStated(p: Pick<ShapePrompt, 'category' | 'count'>): boolean {
  return p.count !== 1 || p.category === 'count';
}

/** "an" before a vowel ("an orange circle"), else "a". */
function indefinite(nextWord: string): string {
  return /^[aeiou]/.test(nextWord) ? 'an' : 'a';
}

/** The canonical text of a structured prompt. */
export function promptText(p: Omit<ShapePrompt, 'text'>): string {
  const noun = p.count === 1 ? p.shape : PLURALS[p.shape];
  const color = p.color ? `${p.color} ` : '';
  const article = countIsStated(p) ? COUNT_WORDS[p.count] : indefinite(color || noun);
  const background = p.background ? ` on ${indefinite(p.background)} ${p.background} background` : '';
  return `${article} ${color}${noun}${background}`;
}

/**
 * Builds a prompt from its attributes, deriving category and text. Returns null when the
 * attributes do not form a prompt of the domain (out-of-vocabulary value, count outside
 * 1–4, object colour equal to the background, or nothing stated beyond the shape).
 */
export function makePrompt(attrs: {
  shape: Shape;
  count: number;
  color?: ObjectColor;
  background?: ColorName;
  /** State the count even when it is one ("one circle" rather than "a ... circle"). */
  statedCount?: boolean;
}): ShapePrompt | null {
  const { shape, count, color, background } = attrs;
  if (!SHAPES.includes(shape) || !(COUNTS as readonly number[]).includes(count)) return null;
  if (color !== undefined && !OBJECT_COLORS.includes(color)) return null;
  if (background !== undefined && !BACKGROUND_COLORS.includes(background)) return null;
  if (color !== undefined && color === background) return null;
  const stated = statedOf(
    { shape, count, color, background },
    count !== 1 || attrs.statedCount ? 'number' : 'a',
  );
  // "one" next to a colour or background adds nothing over "a": the prompt is not a combination.
  if (count === 1 && (stated.color || stated.background)) stated.count = false;
  const category = categoryOf(stated);
  if (category === null) return null;
  const p: Omit<ShapePrompt, 'text'> = { category, shape, count };
  if (color !== undefined) p.color = color;
  if (background !== undefined) p.background = background;
  return { ...p, text: promptText(p) };
}

const PROMPT_PATTERN =
  /^(a|an|one|two|three|four|[1-4])\s+(?:([a-z]+)\s+)?([a-z]+?)(s?)(?:\s+on\s+an?\s+([a-z]+)\s+background)?$/;

/**
 * Parses a prompt of the domain (the inverse of the templates; case, extra spaces, a final
 * full stop, "grey" and digits are tolerated). The result carries the canonical text.
 * Returns null for any other text.
 */
export function parsePrompt(text: string): ShapePrompt | null {
  const normal = text
    .trim()
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/\.$/, '')
    .replace(/\bgrey\b/g, 'gray');
  const m = PROMPT_PATTERN.exec(normal);
  if (!m) return null;
  const [, countWord, colorWord, shapeWord, plural, backgroundWord] = m;
  const count = /^[1-4]$/.test(countWord)
    ? Number(countWord)
    : countWord.startsWith('a')
      ? 1
      : COUNT_WORDS.indexOf(countWord as (typeof COUNT_WORDS)[number]);
  if (!SHAPES.includes(shapeWord as Shape)) return null;
  if ((count === 1) !== (plural === '')) return null; // "two circle", "a circles"
  if (colorWord !== undefined && !OBJECT_COLORS.includes(colorWord as ObjectColor)) return null;
  if (backgroundWord !== undefined && !BACKGROUND_COLORS.includes(backgroundWord as ColorName)) return null;
  return makePrompt({
    shape: shapeWord as Shape,
    count,
    color: colorWord as ObjectColor | undefined,
    background: backgroundWord as ColorName | undefined,
    statedCount: !countWord.startsWith('a'),
  });
}

/*
 * Seen/unseen split. Attribute pairs whose indices sum to a multiple of 4 are held out
 * (about a quarter of each table: 4/18 shape-colour, 3/12 count-shape, 7/27
 * background-shape). A fixed rule rather than a seeded draw, so every experiment and every
 * engineer agrees on which prompts are unseen.
 */
const heldOut = (i: number, j: number): boolean => (i + j) % 4 === 0;

export function isHeldOutColor(shape: Shape, color: ObjectColor): boolean {
  return heldOut(SHAPES.indexOf(shape), OBJECT_COLORS.indexOf(color));
}
export function isHeldOutCount(count: number, shape: Shape): boolean {
  return heldOut((COUNTS as readonly number[]).indexOf(count), SHAPES.indexOf(shape));
}
export function isHeldOutBackground(background: ColorName, shape: Shape): boolean {
  return heldOut(BACKGROUND_COLORS.indexOf(background), SHAPES.indexOf(shape));
}

/** A prompt is unseen when any attribute pair it states is held out. */
export function promptSplit(p: ShapePrompt): PromptSplit {
  if (p.color !== undefined && isHeldOutColor(p.shape, p.color)) return 'unseen';
  if (countIsStated(p) && isHeldOutCount(p.count, p.shape)) return 'unseen';
  if (p.background !== undefined && isHeldOutBackground(p.background, p.shape)) return 'unseen';
  return 'seen';
}

/** Every distinct prompt of one category, in a fixed order. */
export function allPrompts(category: PromptCategory): ShapePrompt[] {
  const out: ShapePrompt[] = [];
  const colors: (ObjectColor | undefined)[] = [undefined, ...OBJECT_COLORS];
  const backgrounds: (ColorName | undefined)[] = [undefined, ...BACKGROUND_COLORS];
  for (const shape of SHAPES)
    for (const count of COUNTS)
      for (const color of colors)
        for (const background of backgrounds)
          for (const statedCount of count === 1 ? [false, true] : [true]) {
            const p = makePrompt({ shape, count, color, background, statedCount });
            if (p && p.category === category && !out.some((q) => q.text === p.text)) out.push(p);
          }
  return out;
}

export interface GeneratePromptsOptions {
  /** Categories to draw from; default all four. */
  categories?: readonly PromptCategory[];
  /** Prompts per category; capped at the number of distinct prompts the category has in the split. */
  perCategory: number;
  /** Which prompts to draw from; default 'all'. */
  split?: PromptSplit | 'all';
  seed: Seed;
}

/** The readable, stable id of a prompt. */
export function promptId(p: ShapePrompt): string {
  return p.text.replace(/ /g, '-');
}

/**
 * A deterministic list of distinct prompts: for each category in order, `perCategory`
 * prompts drawn without replacement (fewer when the category has fewer in the split).
 */
export function generatePrompts(options: GeneratePromptsOptions): GeneratedPrompt[] {
  const { categories = PROMPT_CATEGORIES, perCategory, split = 'all', seed } = options;
  if (!Number.isInteger(perCategory) || perCategory < 0) {
    throw new Error(`generatePrompts: perCategory must be a non-negative integer, got ${perCategory}.`);
  }
  const rng = createRng(seed);
  const out: GeneratedPrompt[] = [];
  for (const category of categories) {
    if (!PROMPT_CATEGORIES.includes(category)) {
      throw new Error(
        `generatePrompts: unknown prompt category "${category}"; use one of ${PROMPT_CATEGORIES.join(', ')}.`,
      );
    }
    const pool = allPrompts(category)
      .map((p) => ({ ...p, id: promptId(p), split: promptSplit(p) }))
      .filter((p) => split === 'all' || p.split === split);
    out.push(...rng.fork(category).shuffle(pool).slice(0, perCategory));
  }
  return out;
}
