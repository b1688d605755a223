import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allPrompts,
  generatePrompts,
  isHeldOutBackground,
  isHeldOutColor,
  isHeldOutCount,
  makePrompt,
  parsePrompt,
  promptSplit,
} from '../../src/domains/shapes/prompts';
import {
  BACKGROUND_COLORS,
  COUNTS,
  OBJECT_COLORS,
  PROMPT_CATEGORIES,
  SHAPES,
} from '../../src/domains/shapes/types';

test('templates produce the documented texts', () => {
  assert.equal(makePrompt({ shape: 'circle', count: 1, color: 'red' })?.text, 'a red circle');
  assert.equal(makePrompt({ shape: 'square', count: 3 })?.text, 'three squares');
  assert.equal(makePrompt({ shape: 'triangle', count: 1, statedCount: true })?.text, 'one triangle');
  assert.equal(
    makePrompt({ shape: 'triangle', count: 1, background: 'blue' })?.text,
    'a triangle on a blue background',
  );
  const combo = makePrompt({ shape: 'circle', count: 2, color: 'green', background: 'yellow' });
  assert.deepEqual(combo, {
    category: 'combination',
    shape: 'circle',
    count: 2,
    color: 'green',
    background: 'yellow',
    text: 'two green circles on a yellow background',
  });
  assert.equal(makePrompt({ shape: 'circle', count: 1, color: 'orange' })?.text, 'an orange circle');
  assert.equal(
    makePrompt({ shape: 'square', count: 2, background: 'orange' })?.text,
    'two squares on an orange background',
  );
  assert.equal(makePrompt({ shape: 'circle', count: 1 }), null, 'a bare shape probes nothing');
  assert.equal(makePrompt({ shape: 'circle', count: 1, color: 'red', background: 'red' }), null);
  assert.equal(makePrompt({ shape: 'circle', count: 5, color: 'red' }), null);
});

test('parsePrompt inverts the templates for every prompt of the domain', () => {
  let n = 0;
  for (const category of PROMPT_CATEGORIES) {
    for (const p of allPrompts(category)) {
      assert.deepEqual(parsePrompt(p.text), p);
      n++;
    }
  }
  assert.ok(n > 300, `only ${n} prompts in the domain`);
});

test('parsePrompt tolerates case, spacing, digits and grey; rejects other text', () => {
  assert.equal(
    parsePrompt('  Two  GREEN circles on a grey background. ')?.text,
    'two green circles on a gray background',
  );
  assert.equal(parsePrompt('3 squares')?.text, 'three squares');
  assert.equal(parsePrompt('one red circle')?.text, 'a red circle');
  assert.equal(parsePrompt('one red circle')?.category, 'color');
  for (const bad of [
    'a dog',
    'two circle',
    'a circles',
    'five circles',
    'a pink circle',
    'a circle',
    'a red circle on a red background',
    '',
    'a red circle on a plaid background',
  ]) {
    assert.equal(parsePrompt(bad), null, bad);
  }
});

test('about a quarter of each attribute table is held out, and every value stays seen somewhere', () => {
  const frac = (xs: boolean[]) => xs.filter(Boolean).length / xs.length;
  const sc = SHAPES.flatMap((s) => OBJECT_COLORS.map((c) => isHeldOutColor(s, c)));
  const cs = COUNTS.flatMap((n) => SHAPES.map((s) => isHeldOutCount(n, s)));
  const bs = BACKGROUND_COLORS.flatMap((b) => SHAPES.map((s) => isHeldOutBackground(b, s)));
  for (const f of [frac(sc), frac(cs), frac(bs)]) assert.ok(f > 0.18 && f < 0.3, `held-out fraction ${f}`);
  for (const c of OBJECT_COLORS) assert.ok(SHAPES.some((s) => !isHeldOutColor(s, c)));
  for (const n of COUNTS) assert.ok(SHAPES.some((s) => !isHeldOutCount(n, s)));
  for (const b of BACKGROUND_COLORS) assert.ok(SHAPES.some((s) => !isHeldOutBackground(b, s)));
  assert.equal(promptSplit(parsePrompt('a red circle')!), 'unseen'); // (circle, red) is held out
  assert.equal(promptSplit(parsePrompt('a green circle')!), 'seen');
});

test('generatePrompts is deterministic, distinct, per category and split', () => {
  const a = generatePrompts({ perCategory: 10, seed: 1 });
  assert.deepEqual(a, generatePrompts({ perCategory: 10, seed: 1 }));
  assert.notDeepEqual(a, generatePrompts({ perCategory: 10, seed: 2 }));
  assert.equal(a.length, 40);
  assert.equal(new Set(a.map((p) => p.id)).size, 40);
  for (const category of PROMPT_CATEGORIES) assert.equal(a.filter((p) => p.category === category).length, 10);
  const unseen = generatePrompts({ categories: ['combination'], perCategory: 50, split: 'unseen', seed: 3 });
  assert.equal(unseen.length, 50);
  for (const p of unseen) {
    assert.equal(p.split, 'unseen');
    assert.equal(promptSplit(p), 'unseen');
    assert.equal(p.id, p.text.replaceAll(' ', '-'));
  }
  // The count category has 12 prompts, 9 of them seen: a larger request is capped.
  assert.equal(
    generatePrompts({ categories: ['count'], perCategory: 100, split: 'seen', seed: 0 }).length,
    9,
  );
  assert.throws(
    () => generatePrompts({ categories: ['colour' as never], perCategory: 1, seed: 0 }),
    /unknown prompt category "colour"/,
  );
});
