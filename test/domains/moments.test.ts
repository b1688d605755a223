import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shapePixels } from '../../src/domains/shapes/geometry';
import { shapeFromMoments, shapeMoments } from '../../src/domains/shapes/moments';
import { SHAPES } from '../../src/domains/shapes/types';

test('moments of large ideal shapes match their continuous values', () => {
  const size = 200;
  const moments = (shape: (typeof SHAPES)[number]) => {
    const pixels = shapePixels(shape, { x: 20, y: 20, w: 160, h: 160 }, size, size);
    return shapeMoments(pixels, new Array(pixels.length).fill(1), size);
  };
  const triangle = moments('triangle');
  const square = moments('square');
  const circle = moments('circle');
  assert.ok(Math.abs(triangle.skewY + (2 * Math.SQRT2) / 5) < 0.01, `triangle skew ${triangle.skewY}`);
  assert.ok(Math.abs(square.anisotropy + 0.6) < 0.01, `square anisotropy ${square.anisotropy}`);
  assert.ok(Math.abs(circle.anisotropy) < 0.01 && Math.abs(circle.skewY) < 0.01);
  for (const shape of SHAPES) assert.equal(shapeFromMoments(moments(shape)), shape);
});

test('no mass gives neutral moments instead of NaN', () => {
  assert.deepEqual(shapeMoments([0, 1], [0, 0], 2), { skewY: 0, anisotropy: 0 });
});
