// Plots render to PNGs of the asked size whose pixels show the data (bars, lines) and the text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { barChart, histogram, linePlot, linePlotSvg, niceTicks } from '../../src/tracking/plots';

interface Pixels {
  width: number;
  height: number;
  channels: number;
  data: Buffer;
}

async function pixels(png: Buffer): Promise<Pixels> {
  assert.deepEqual(
    [...png.subarray(0, 8)],
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    'PNG signature',
  );
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data };
}

// Pixels within `tol` of an RGB colour, optionally inside a box [x0, y0, x1, y1).
function count(p: Pixels, rgb: [number, number, number], tol = 40, box = [0, 0, p.width, p.height]): number {
  let n = 0;
  for (let y = box[1]; y < box[3]; y++)
    for (let x = box[0]; x < box[2]; x++) {
      const i = (y * p.width + x) * p.channels;
      if (rgb.every((c, k) => Math.abs(p.data[i + k] - c) <= tol)) n++;
    }
  return n;
}

const BLUE: [number, number, number] = [0x1f, 0x77, 0xb4];
const ORANGE: [number, number, number] = [0xff, 0x7f, 0x0e];
const DARK: [number, number, number] = [20, 20, 20];

test('a line plot of two loss curves: asked size, both curves drawn, title and tick labels rendered', async () => {
  const steps = Array.from({ length: 50 }, (_, i) => i);
  const png = await linePlot({
    title: 'finetune loss',
    xLabel: 'step',
    yLabel: 'loss',
    width: 500,
    height: 300,
    series: [
      { name: 'train', points: steps.map((s) => [s, 2 * Math.exp(-s / 10) + 0.1]) },
      { name: 'pretrain term', points: steps.map((s) => [s, 0.5 + 0.01 * s]) },
    ],
  });
  const p = await pixels(png);
  assert.deepEqual([p.width, p.height], [500, 300]);
  assert.ok(count(p, BLUE, 30) > 150, 'the first curve is drawn');
  assert.ok(count(p, ORANGE, 30) > 150, 'the second curve is drawn');
  assert.ok(count(p, DARK, 60, [150, 0, 350, 30]) > 40, 'the title is rendered as text');
  assert.ok(count(p, DARK, 60, [0, 30, 60, 250]) > 40, 'y tick labels are rendered');
  // The falling curve starts high on the left: blue pixels in the top-left quarter of the plot area.
  assert.ok(count(p, BLUE, 30, [64, 36, 150, 120]) > 5, 'the curve follows the data');
});

test('a bar chart of alignment by category, base vs tuned: bar heights follow the values', async () => {
  const png = await barChart({
    title: 'alignment by category',
    yLabel: 'alignment',
    categories: ['color', 'count', 'background'],
    series: [
      { name: 'base', values: [0.2, 0.4, 0.6] },
      { name: 'tuned', values: [0.8, 0.5, 0.7] },
    ],
  });
  const p = await pixels(png);
  assert.deepEqual([p.width, p.height], [640, 400]);
  const blue = count(p, BLUE, 10);
  const orange = count(p, ORANGE, 10);
  // Same bar widths, so areas compare as the value sums do: 1.2 vs 2.0 (minus the legend swatches).
  assert.ok(orange > blue * 1.4 && orange < blue * 2, `tuned bars (${orange}) vs base bars (${blue})`);
  assert.ok(count(p, DARK, 60, [64, 348, 624, 372]) > 60, 'category names under the bars');
});

test('a histogram of reward by label: both groups are drawn, each where its values lie', async () => {
  const good = Array.from({ length: 200 }, (_, i) => 0.6 + 0.3 * Math.sin(i));
  const bad = Array.from({ length: 200 }, (_, i) => -0.6 + 0.3 * Math.cos(i));
  const png = await histogram({
    title: 'reward by label',
    xLabel: 'reward',
    groups: [
      { name: 'good', values: good },
      { name: 'bad', values: bad },
    ],
    bins: 24,
    width: 400,
    height: 260,
  });
  const p = await pixels(png);
  assert.deepEqual([p.width, p.height], [400, 260]);
  // Translucent fills: blue-ish ('good', right half) and orange-ish ('bad', left half).
  const mid = Math.round((64 + 384) / 2);
  const goodish: [number, number, number] = [0x83, 0xb1, 0xd4];
  const badish: [number, number, number] = [0xff, 0xb2, 0x76];
  assert.ok(count(p, goodish, 25, [mid, 36, 384, 208]) > 500, 'good rewards on the right');
  assert.ok(count(p, goodish, 25, [64, 36, mid, 208]) < 50, 'no good rewards on the left');
  assert.ok(count(p, badish, 25, [64, 36, mid, 208]) > 500, 'bad rewards on the left');
});

test('tick values are round and cover the data; bad input is refused with a sentence', () => {
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(3, 97), [0, 20, 40, 60, 80, 100]);
  const t = niceTicks(-0.37, 2.1);
  assert.ok(t[0] <= -0.37 && t[t.length - 1] >= 2.1);
  assert.throws(() => linePlotSvg({ title: 'x', xLabel: 'a', yLabel: 'b', series: [] }), /no finite points/);
  assert.throws(
    () =>
      linePlotSvg({
        title: 'x',
        xLabel: 'a',
        yLabel: 'b',
        width: 10,
        series: [{ name: 'a', points: [[0, 1]] }],
      }),
    /160x120/,
  );
});
