import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makePrompt, renderPrompt, solidImage } from '../../src/domains/shapes/index';
import { frechetDistance, imageFeatures } from '../../src/evaluate/fidelity';
import { createRng } from '../../src/util/rng';

test('Fréchet distance: zero for one set against itself, the closed form for 1-D Gaussians', () => {
  const rng = createRng('frechet');
  const a = Array.from({ length: 400 }, () => [rng.normal(), rng.normal() * 2]);
  assert.ok(frechetDistance(a, a) < 1e-9);
  // Two exact two-point sets: means 0 and 3, standard deviations 1 and 2 (sample variance, n − 1).
  const x = [[-Math.SQRT1_2], [Math.SQRT1_2]];
  const y = [[3 - 2 * Math.SQRT1_2], [3 + 2 * Math.SQRT1_2]];
  assert.ok(Math.abs(frechetDistance(x, y) - (9 + 1)) < 1e-9);
  // A shifted copy in 2-D: only the mean term remains.
  const shifted = a.map(([u, v]) => [u + 1, v - 2]);
  assert.ok(Math.abs(frechetDistance(a, shifted) - 5) < 1e-6);
});

test('image features: a palette histogram summing to one, and edge energy that is zero on a flat image', () => {
  const flat = imageFeatures(solidImage(32, 'blue'));
  assert.equal(flat.length, 11);
  assert.ok(Math.abs(flat.slice(0, 10).reduce((s, v) => s + v, 0) - 1) < 1e-9);
  assert.equal(flat[10], 0);
  const shapes = imageFeatures(
    renderPrompt(makePrompt({ shape: 'circle', count: 2, color: 'red' })!, { seed: 1 }),
  );
  assert.ok(shapes[10] > 0, 'edges of the objects');
  const noise = solidImage(32, 'gray');
  const rng = createRng('noise');
  for (let i = 0; i < noise.data.length; i++) noise.data[i] = rng.uniform(-1, 1);
  assert.ok(imageFeatures(noise)[9] > 0.3, 'random pixels are mostly off-palette');
});
