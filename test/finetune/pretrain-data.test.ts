import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allPrompts } from '../../src/domains/shapes/index';
import { PROMPT_CATEGORIES } from '../../src/domains/shapes/types';
import { oneAttributeNeighbours, renderedData } from '../../src/finetune/pretrain';

const pool = PROMPT_CATEGORIES.flatMap((c) => allPrompts(c));
const byText = new Map(pool.map((p) => [p.text, p]));

test('a loose caption names exactly one of count, colour or background wrong', () => {
  const p = byText.get('two red circles on a blue background')!;
  const wrong = oneAttributeNeighbours(p, pool);
  assert.ok(wrong.length > 5);
  for (const q of wrong) {
    assert.equal(q.shape, 'circle');
    const differs = (['count', 'color', 'background'] as const).filter((a) => q[a] !== p[a]);
    assert.equal(differs.length, 1, q.text);
  }
  assert.ok(wrong.some((q) => q.text === 'three red circles on a blue background'));
  assert.ok(wrong.some((q) => q.text === 'two green circles on a blue background'));
  assert.ok(!wrong.some((q) => q.text === 'two red squares on a blue background'));
});

test('renderedData: misdescribe changes captions, never images, in the given share', () => {
  const clean = renderedData([...PROMPT_CATEGORIES], 400, 3);
  const loose = renderedData([...PROMPT_CATEGORIES], 400, 3, 0.5);
  const all = renderedData([...PROMPT_CATEGORIES], 400, 3, 1);
  let changed = 0;
  clean.forEach((s, i) => {
    assert.deepEqual(loose[i].image.data, s.image.data);
    if (loose[i].prompt !== s.prompt) {
      changed++;
      assert.ok(oneAttributeNeighbours(byText.get(s.prompt)!, pool).some((q) => q.text === loose[i].prompt));
    }
    const hasNeighbours = oneAttributeNeighbours(byText.get(s.prompt)!, pool).length > 0;
    assert.equal(all[i].prompt !== s.prompt, hasNeighbours);
  });
  assert.ok(changed > 150 && changed < 250, `${changed} of 400 captions changed`);
});

test('renderedData: a share of loose captions outside [0, 1] is refused in one sentence', () => {
  assert.throws(
    () => renderedData([...PROMPT_CATEGORIES], 4, 0, 1.5),
    /^Error: The share of loose captions \(misdescribe\) must be from 0 to 1, got 1.5\.$/,
  );
});
