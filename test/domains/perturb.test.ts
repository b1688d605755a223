import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allPrompts, parsePrompt, PROMPT_CATEGORIES } from '../../src/domains/shapes/index';
import { perturbPrompt, perturbText } from '../../src/domains/shapes/perturb';
import { createRng } from '../../src/util/rng';
import { differences } from '../helpers/prompts';

test('perturbPrompt gives k distinct valid prompts, each one attribute away', () => {
  const rng = createRng('perturb');
  for (const category of PROMPT_CATEGORIES) {
    for (const prompt of allPrompts(category)) {
      const texts = perturbPrompt(prompt, 5, rng);
      assert.equal(texts.length, 5, prompt.text);
      assert.equal(new Set(texts).size, texts.length);
      for (const text of texts) {
        const other = parsePrompt(text);
        assert.ok(other, `"${text}" is not a prompt of the domain`);
        assert.equal(other.text, text);
        assert.notEqual(text, prompt.text);
        assert.equal(differences(prompt, other).length, 1, `${prompt.text} -> ${text}`);
      }
    }
  }
});

test('perturbPrompt covers every constrained attribute and returns fewer only when it must', () => {
  const rng = createRng(1);
  const combo = parsePrompt('two green circles on a yellow background')!;
  const many = perturbPrompt(combo, 100, rng);
  const changed = new Set(many.flatMap((t) => differences(combo, parsePrompt(t)!)));
  assert.deepEqual([...changed].sort(), ['background', 'color', 'count', 'shape']);
  assert.ok(!many.includes('two green circles on a green background'));
  // "two circles": three other counts and two other shapes; its colour is free, so never changed.
  const count = perturbPrompt(parsePrompt('two circles')!, 10, rng);
  assert.deepEqual([...count].sort(), [
    'four circles',
    'one circle',
    'three circles',
    'two squares',
    'two triangles',
  ]);
  // Balanced: with k = 4, a combination gets one of each kind.
  const four = perturbPrompt(combo, 4, rng).flatMap((t) => differences(combo, parsePrompt(t)!));
  assert.deepEqual(four.sort(), ['background', 'color', 'count', 'shape']);
  assert.deepEqual(perturbPrompt(combo, 6, createRng(3)), perturbPrompt(combo, 6, createRng(3)));
});

test('perturbText swaps colours, numbers and nouns in free English', () => {
  const rng = createRng('text');
  const text = 'Two red dogs and 3 cats on a Blue sofa.';
  const out = perturbText(text, 30, rng);
  assert.equal(out.length, 30);
  assert.equal(new Set(out).size, 30);
  assert.ok(!out.includes(text));
  for (const t of out) {
    const before = text.split(' ');
    const after = t.split(' ');
    assert.equal(after.length, before.length);
    const changed = before.filter((w, i) => w !== after[i]).length;
    assert.ok(changed === 1 || changed === 2, t); // a number may carry its noun with it
  }
  const all = perturbText(text, 1000, rng);
  assert.ok(all.includes('One red dog and 3 cats on a Blue sofa.'), 'the noun follows the number');
  assert.ok(all.includes('Two red dogs and 7 cats on a Blue sofa.'));
  assert.ok(all.includes('Two red dogs and 3 cats on a Green sofa.'), 'capitalisation is kept');
  assert.ok(all.includes('Two red horses and 3 cats on a Blue sofa.'), 'plural nouns stay plural');
  assert.ok(!all.some((t) => t.endsWith('sofa') || !t.endsWith('.')), 'punctuation is kept');
});

test('perturbText keeps the article in agreement', () => {
  const all = perturbText('A red apple on a blue table', 100, createRng(4));
  assert.ok(all.includes('An orange apple on a blue table'));
  assert.ok(all.includes('A red apple on an orange table'));
  assert.ok(all.includes('A red apple on a blue chair'));
});

test('perturbText returns fewer when little or nothing is swappable', () => {
  const rng = createRng(2);
  assert.deepEqual(perturbText('a sunset over the sea', 5, rng), []);
  const one = perturbText('a red sunset', 50, rng);
  assert.equal(one.length, 10); // ten other colours
  assert.ok(one.every((t) => /^an? [a-z]+ sunset$/.test(t)));
});
