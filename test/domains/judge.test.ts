import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allPrompts,
  judge,
  renderPrompt,
  parsePrompt,
  solidImage,
  PALETTE,
  PROMPT_CATEGORIES,
  type Image,
  type ShapePrompt,
} from '../../src/domains/shapes/index';
import { perturbPrompt } from '../../src/domains/shapes/perturb';
import { shapePixels } from '../../src/domains/shapes/geometry';
import { createRng } from '../../src/util/rng';
import { addNoise, boxBlur, colorCast, noiseImage } from './corrupt';

const N = 1200;
const POOLS = PROMPT_CATEGORIES.map((c) => allPrompts(c));

/** N prompts, each category a quarter of them, a quarter of the images at 64×64. */
function sample(seed: string): { prompt: ShapePrompt; size: number; seed: number }[] {
  const rng = createRng(seed);
  return Array.from({ length: N }, (_, i) => ({
    prompt: rng.pick(POOLS[i % 4]),
    size: i % 4 === 3 ? 64 : 32,
    seed: i,
  }));
}

function accuracy(name: string, corrupt: (image: Image) => Image): number {
  let ok = 0;
  for (const { prompt, size, seed } of sample(name)) {
    const j = judge(corrupt(renderPrompt(prompt, { size, seed })), prompt);
    if (j.aligned && j.wellFormed) ok++;
  }
  const acc = ok / N;
  console.log(`judge accuracy, ${name}: ${(100 * acc).toFixed(2)}% of ${N} images`);
  return acc;
}

test('judge accepts ≥ 99% of correct images: clean, noisy, blurred, both, colour-cast', () => {
  const rng = createRng('noise');
  assert.ok(accuracy('clean', (x) => x) >= 0.99);
  assert.ok(accuracy('noise σ=0.1', (x) => addNoise(x, 0.1, rng)) >= 0.99);
  assert.ok(accuracy('3×3 box blur', boxBlur) >= 0.99);
  assert.ok(accuracy('blur then noise', (x) => addNoise(boxBlur(x), 0.1, rng)) >= 0.99);
  assert.ok(
    accuracy('colour cast ±0.15, blur, noise σ=0.15', (x) =>
      addNoise(boxBlur(colorCast(x, 0.15, rng)), 0.15, rng),
    ) >= 0.99,
  );
});

test('judge rejects ≥ 99% of images rendered for a prompt with one attribute changed', () => {
  const rng = createRng('perturbed');
  const noise = createRng('noise2');
  let rejected = 0;
  for (const { prompt, size, seed } of sample('perturbed')) {
    const other = parsePrompt(rng.pick(perturbPrompt(prompt, 20, rng)))!;
    const j = judge(addNoise(renderPrompt(other, { size, seed }), 0.1, noise), prompt);
    if (!j.aligned) rejected++;
  }
  console.log(
    `judge rejection of perturbed-prompt images (noise σ=0.1): ${((100 * rejected) / N).toFixed(2)}% of ${N}`,
  );
  assert.ok(rejected / N >= 0.99);
});

test('judge reports each attribute, null where the prompt leaves it free', () => {
  const prompt = parsePrompt('two green circles on a yellow background')!;
  const good = judge(renderPrompt(prompt, { seed: 1 }), prompt);
  assert.deepEqual(
    {
      ...good,
      found: { ...good.found, objects: good.found.objects.map(({ color, shape }) => ({ color, shape })) },
    },
    {
      background: true,
      count: true,
      color: true,
      shape: true,
      aligned: true,
      wellFormed: true,
      malformed: [],
      found: {
        background: 'yellow',
        objects: [
          { color: 'green', shape: 'circle' },
          { color: 'green', shape: 'circle' },
        ],
      },
    },
  );
  const three = parsePrompt('three squares')!;
  const wrong = judge(
    renderPrompt(parsePrompt('two blue circles on a black background')!, { seed: 2 }),
    three,
  );
  assert.equal(wrong.background, null);
  assert.equal(wrong.color, null);
  assert.equal(wrong.count, false);
  assert.equal(wrong.shape, false);
  assert.equal(wrong.aligned, false);
  assert.equal(wrong.wellFormed, true);
});

/** A white 32×32 image with the given squares painted in. */
function paint(squares: { x: number; y: number; side: number; color: 'red' | 'blue' }[]): Image {
  const image = solidImage(32, 'white');
  for (const { x, y, side, color } of squares) {
    for (const i of shapePixels('square', { x, y, w: side, h: side }, 32, 32)) {
      for (let c = 0; c < 3; c++) image.data[c * 1024 + i] = PALETTE[color][c];
    }
  }
  return image;
}

test('noise, blank, crowded and two-coloured images are not well formed', () => {
  const rng = createRng('garbage');
  const prompt = parsePrompt('a red circle')!;
  let formed = 0;
  for (let i = 0; i < 100; i++) if (judge(noiseImage(i % 2 ? 64 : 32, rng), prompt).wellFormed) formed++;
  // The diffusion model's starting point: standard normal noise, clamped to the pixel range.
  for (let i = 0; i < 100; i++)
    if (judge(addNoise(solidImage(32, 'gray'), 1, rng), prompt).wellFormed) formed++;
  console.log(`pure noise images judged well formed: ${formed} of 200`);
  assert.equal(formed, 0);

  const blank = judge(solidImage(32, 'white'), prompt);
  assert.deepEqual([blank.wellFormed, blank.count, blank.color, blank.shape], [false, false, false, false]);
  assert.deepEqual(blank.malformed, ['no_object']);

  const five = [2, 8, 14, 20, 26].map((x, k) => ({ x: x - 1, y: 4 + 5 * k, side: 5, color: 'red' as const }));
  const crowded = judge(paint(five), parsePrompt('four red squares')!);
  assert.equal(crowded.found.objects.length, 5);
  assert.equal(crowded.wellFormed, false);
  assert.deepEqual(crowded.malformed, ['too_many_objects']);

  const halves = paint([
    { x: 10, y: 10, side: 10, color: 'red' },
    { x: 15, y: 10, side: 5, color: 'blue' },
    { x: 15, y: 15, side: 5, color: 'blue' },
  ]);
  const twoColoured = judge(halves, parsePrompt('a red square')!);
  assert.equal(twoColoured.found.objects.length, 1);
  assert.equal(twoColoured.wellFormed, false);
  assert.ok(twoColoured.malformed.includes('colour_mix'), twoColoured.malformed.join());
  // The same layout in one colour is a clean square.
  const clean = judge(paint([{ x: 10, y: 10, side: 10, color: 'red' }]), parsePrompt('a red square')!);
  assert.equal(clean.wellFormed, true);
  assert.deepEqual(clean.malformed, []);
});

test('judge is fast and deterministic', () => {
  const prompt = parsePrompt('four orange triangles on a red background')!;
  const image = addNoise(renderPrompt(prompt, { seed: 9 }), 0.1, createRng(1));
  assert.deepEqual(judge(image, prompt), judge(image, prompt));
  const t0 = performance.now();
  for (let i = 0; i < 500; i++) judge(image, prompt);
  const ms = (performance.now() - t0) / 500;
  console.log(`judge time: ${ms.toFixed(2)} ms per 32×32 image`);
  assert.ok(ms < 10);
});
