import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allPrompts,
  PALETTE,
  parsePrompt,
  renderPrompt,
  PROMPT_CATEGORIES,
  type Image,
} from '../../src/domains/shapes/index';

function pixel(image: Image, x: number, y: number): number[] {
  const plane = image.width * image.height;
  return [0, 1, 2].map((c) => image.data[c * plane + y * image.width + x]);
}

test('an image is a pure function of prompt, size and seed', () => {
  const prompt = parsePrompt('three red triangles on a blue background')!;
  const a = renderPrompt(prompt, { seed: 1 });
  assert.deepEqual(a, renderPrompt(prompt, { seed: 1 }));
  assert.notDeepEqual(a.data, renderPrompt(prompt, { seed: 2 }).data);
  assert.deepEqual([a.width, a.height, a.data.length], [32, 32, 3 * 32 * 32]);
  const big = renderPrompt(prompt, { size: 64, seed: 1 });
  assert.deepEqual([big.width, big.height, big.data.length], [64, 64, 3 * 64 * 64]);
});

test('images hold only the background and object colours, with a clear border', () => {
  for (const category of PROMPT_CATEGORIES) {
    for (const [k, prompt] of allPrompts(category).slice(0, 60).entries()) {
      for (const size of [32, 64]) {
        const image = renderPrompt(prompt, { size, seed: k });
        // Images are Float32: compare with the palette rounded the same way.
        const background = PALETTE[prompt.background ?? 'white'].map(Math.fround);
        const colors = new Set<string>();
        let objectPixels = 0;
        for (let y = 0; y < size; y++) {
          for (let x = 0; x < size; x++) {
            const p = pixel(image, x, y);
            colors.add(p.join());
            const isBackground = p.every((v, c) => v === background[c]);
            if (!isBackground) objectPixels++;
            // Objects keep a margin of two pixels (at 32×32) from the edge.
            const edge = Math.min(x, y, size - 1 - x, size - 1 - y);
            if (edge < (2 * size) / 32)
              assert.ok(isBackground, `${prompt.text}: object at the edge (${x}, ${y})`);
          }
        }
        assert.equal(colors.size, 2, `${prompt.text}: ${colors.size} colours`);
        if (prompt.color) assert.ok(colors.has(PALETTE[prompt.color].map(Math.fround).join()));
        // Objects are 7–12 px (scaled): sizeable but not filling the image.
        const share = objectPixels / (size * size);
        assert.ok(share > 0.02 && share < 0.45, `${prompt.text}: objects cover ${share}`);
      }
    }
  }
});

test('free colours vary with the seed and never match the background', () => {
  const prompt = parsePrompt('a square on a red background')!;
  const seen = new Set<string>();
  for (let seed = 0; seed < 60; seed++) {
    const image = renderPrompt(prompt, { seed });
    const found = new Set<string>();
    for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) found.add(pixel(image, x, y).join());
    found.delete(PALETTE.red.map(Math.fround).join());
    assert.equal(found.size, 1);
    seen.add([...found][0]);
  }
  assert.equal(seen.size, 5); // the five object colours other than red
});

test('renderPrompt rejects sizes and prompts it cannot draw, in one sentence', () => {
  const prompt = parsePrompt('a red circle')!;
  assert.throws(
    () => renderPrompt(prompt, { size: 16, seed: 0 }),
    /^Error: Image size 16 is not supported: use an integer from 24 to 256/,
  );
  assert.throws(
    () => renderPrompt({ ...prompt, count: 7 }, { seed: 0 }),
    /asks for 7 objects: the shapes domain draws 1 to 4/,
  );
  assert.throws(
    () => renderPrompt({ ...prompt, background: 'red' }, { seed: 0 }),
    /object colour equal to the background/,
  );
});
