/**
 * Prompt perturbation for the reward model's auxiliary task (pick the real prompt out of
 * perturbed ones, Lee et al. 2023 §3.2): each perturbation changes exactly one attribute,
 * so telling them apart needs the image.
 */
import type { Rng } from '../../util/rng';
import { makePrompt } from './prompts';
import { BACKGROUND_COLORS, COUNTS, OBJECT_COLORS, SHAPES, type ShapePrompt } from './types';

/**
 * Takes up to k of the candidate groups' texts, round-robin over the groups in a random
 * order (so one attribute with many values does not crowd out the others), without
 * duplicates and never `original`.
 */
function takeBalanced(groups: string[][], k: number, original: string, rng: Rng): string[] {
  const queues = rng.shuffle(groups.map((g) => rng.shuffle([...g])).filter((g) => g.length > 0));
  const out: string[] = [];
  const seen = new Set([original]);
  while (out.length < k && queues.some((q) => q.length > 0)) {
    for (const q of queues) {
      if (out.length >= k) break;
      while (q.length > 0) {
        const text = q.shift()!;
        if (!seen.has(text)) {
          seen.add(text);
          out.push(text);
          break;
        }
      }
    }
  }
  return out;
}

/**
 * Up to k distinct prompts of the domain that differ from `prompt` in one constrained
 * attribute: its colour, count, background or shape (free attributes are never added,
 * since an image of the original could satisfy them). Fewer than k only when the prompt
 * has fewer single-attribute neighbours (a count prompt has five).
 */
export function perturbPrompt(prompt: ShapePrompt, k: number, rng: Rng): string[] {
  const { shape, count, color, background } = prompt;
  const statedCount = prompt.category === 'count';
  const texts = (variants: (Parameters<typeof makePrompt>[0] | null)[]): string[] =>
    variants
      .flatMap((v) => (v ? [makePrompt(v)?.text ?? ''] : []))
      .filter((t) => t !== '' && t !== prompt.text);
  const base = { shape, count, color, background, statedCount };
  const groups = [
    texts(color === undefined ? [] : OBJECT_COLORS.map((c) => ({ ...base, color: c }))),
    texts(COUNTS.map((n) => ({ ...base, count: n, statedCount: statedCount || n !== 1 }))),
    texts(background === undefined ? [] : BACKGROUND_COLORS.map((b) => ({ ...base, background: b }))),
    texts(SHAPES.map((s) => ({ ...base, shape: s }))),
  ];
  return takeBalanced(groups, k, prompt.text, rng);
}

const COLOR_WORDS = [
  'red',
  'green',
  'blue',
  'yellow',
  'purple',
  'orange',
  'white',
  'black',
  'gray',
  'pink',
  'brown',
];
const NUMBER_WORDS = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];
/** Common object nouns, singular → plural. */
const NOUNS: Record<string, string> = Object.fromEntries(
  [
    ...'circle square triangle star heart dog cat bird horse cow sheep car bus bicycle boat apple banana orange flower tree house chair table cup ball book clock bottle hat'
      .split(' ')
      .map((n) => [n, n === 'sheep' ? 'sheep' : n === 'bus' ? 'buses' : `${n}s`]),
    ['person', 'people'],
    ['box', 'boxes'],
  ].filter(([n]) => n !== 'orange'), // "orange" is treated as a colour
);
const PLURAL_TO_SINGULAR = Object.fromEntries(Object.entries(NOUNS).map(([s, p]) => [p, s]));

/** Keeps the capitalisation of the word it replaces. */
function matchCase(replacement: string, original: string): string {
  if (original === original.toUpperCase() && original.length > 1) return replacement.toUpperCase();
  return original[0] === original[0].toUpperCase()
    ? replacement[0].toUpperCase() + replacement.slice(1)
    : replacement;
}

/**
 * Up to k distinct perturbations of free English text, each swapping one word: a colour
 * word for another colour, a number (one..ten or digits) for another number (a following
 * noun takes the matching singular or plural), or a common object noun for another. Fewer
 * than k (possibly none) when the text has fewer swappable words.
 */
export function perturbText(text: string, k: number, rng: Rng): string[] {
  // Split into words and the separators between them, so everything else is kept verbatim.
  const parts = text.split(/([A-Za-z0-9]+)/);
  const words = (i: number) => i % 2 === 1;
  const groups: string[][] = [[], [], []];
  const join = (replaced: Map<number, string>) => {
    // "a red apple" → "an orange apple": the article before a swapped word follows it.
    for (const [i, word] of [...replaced]) {
      const article = parts[i - 2]?.toLowerCase();
      if ((article === 'a' || article === 'an') && parts[i - 1] === ' ') {
        replaced.set(i - 2, matchCase(/^[aeiou]/i.test(word) ? 'an' : 'a', parts[i - 2]));
      }
    }
    return parts.map((p, i) => replaced.get(i) ?? p).join('');
  };
  for (let i = 1; i < parts.length; i += 2) {
    const word = parts[i];
    const lower = word.toLowerCase();
    if (COLOR_WORDS.includes(lower)) {
      for (const c of COLOR_WORDS) if (c !== lower) groups[0].push(join(new Map([[i, matchCase(c, word)]])));
    } else if (NUMBER_WORDS.includes(lower) || /^\d+$/.test(word)) {
      const digits = /^\d+$/.test(word);
      const n = digits ? Number(word) : NUMBER_WORDS.indexOf(lower) + 1;
      for (let m = 1; m <= 10; m++) {
        if (m === n) continue;
        const replaced = new Map([[i, digits ? String(m) : matchCase(NUMBER_WORDS[m - 1], word)]]);
        // The noun within the next two words agrees with the new number.
        for (let j = i + 2; j <= i + 4 && j < parts.length && words(j); j += 2) {
          const noun = parts[j].toLowerCase();
          const singular = NOUNS[noun] ? noun : PLURAL_TO_SINGULAR[noun];
          if (singular) {
            replaced.set(j, matchCase(m === 1 ? singular : NOUNS[singular], parts[j]));
            break;
          }
        }
        groups[1].push(join(replaced));
      }
    } else {
      const singular = NOUNS[lower] ? lower : PLURAL_TO_SINGULAR[lower];
      if (!singular) continue;
      const plural = !NOUNS[lower]; // a plural form, not a singular key ("sheep" counts as singular)
      for (const other of Object.keys(NOUNS)) {
        if (other !== singular)
          groups[2].push(join(new Map([[i, matchCase(plural ? NOUNS[other] : other, word)]])));
      }
    }
  }
  return takeBalanced(groups, k, text, rng);
}
