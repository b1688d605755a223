import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { contactSheet, escapeXml, imageToPng, pngToImage } from '../../src/model/images';
import { parsePrompt, renderPrompt, solidImage, type Image } from '../../src/domains/shapes/index';

/** A 2×3 image with a distinct colour per pixel, exactly representable in 8 bits. */
function gradient(): Image {
  const width = 3;
  const height = 2;
  const data = new Float32Array(18);
  for (let i = 0; i < 6; i++) {
    data[i] = (i * 40) / 127.5 - 1;
    data[6 + i] = (255 - i * 40) / 127.5 - 1;
    data[12 + i] = ((i % 2) * 255) / 127.5 - 1;
  }
  return { width, height, data };
}

test('imageToPng writes interleaved 8-bit RGB; pngToImage reads it back', async () => {
  const image = gradient();
  const png = await imageToPng(image);
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height, info.channels], [3, 2, 3]);
  // Pixel (x=1, y=1) is index 4: R = 160, G = 95, B = 0.
  assert.deepEqual([...data.subarray(3 * 4, 3 * 4 + 3)], [160, 95, 0]);
  const back = await pngToImage(png);
  assert.deepEqual([back.width, back.height], [3, 2]);
  for (let i = 0; i < 18; i++) assert.ok(Math.abs(back.data[i] - image.data[i]) < 1e-6);
});

test('values outside [-1, 1] are clamped and scale upsamples by nearest neighbour', async () => {
  const image: Image = { width: 1, height: 2, data: new Float32Array([5, -5, NaN, 0, -1, 1]) };
  const png = await imageToPng(image, { scale: 3 });
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([info.width, info.height], [3, 6]);
  for (let y = 0; y < 6; y++) {
    for (let x = 0; x < 3; x++) {
      const px = [...data.subarray(3 * (y * 3 + x), 3 * (y * 3 + x) + 3)];
      assert.deepEqual(px, y < 3 ? [255, 0, 0] : [0, 128, 255]);
    }
  }
  await assert.rejects(imageToPng(image, { scale: 0 }), /scale 0/);
  await assert.rejects(imageToPng({ width: 2, height: 2, data: new Float32Array(3) }), /needs 12/);
  await assert.rejects(pngToImage(Buffer.from('not a png')), /Cannot decode the image/);
});

test('contactSheet lays images out in a grid with captions beneath', async () => {
  const prompts = [
    'a red circle',
    'two green squares on a black background',
    'three triangles',
    'a blue square',
  ];
  const cells = prompts.map((text, k) => ({
    image: renderPrompt(parsePrompt(text)!, { seed: k }),
    caption: `${text} <&>`,
  }));
  cells.push({ image: solidImage(64, 'purple'), caption: 'a 64×64 "cell"' });
  const png = await contactSheet(cells, { columns: 3, scale: 2, title: 'base vs tuned & <more>' });
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  // Cells fit the largest image (64 px × 2); 3 columns, 2 rows.
  const cell = 128;
  assert.equal(info.width, 8 + 3 * (cell + 8));
  assert.ok(info.height > 8 + 2 * (cell + 8), 'room for title and captions');
  const at = (x: number, y: number) => [
    ...data.subarray(info.channels * (y * info.width + x), info.channels * (y * info.width + x) + 3),
  ];
  // The first image's top-left corner pixel is its white background, the fifth cell is purple throughout.
  const top = 8 + 14 + 8;
  assert.deepEqual(at(8, top), [255, 255, 255]);
  const rowH = (info.height - 8 - top) / 2;
  assert.deepEqual(at(8 + 1 * (cell + 8) + 64, top + rowH + 64), [150, 0, 200]);
  // Caption text is drawn: the strip under the first image has dark pixels.
  let dark = 0;
  for (let y = top + cell; y < top + rowH - 8; y++)
    for (let x = 8; x < 8 + cell; x++) if (at(x, y)[0] < 100) dark++;
  assert.ok(dark > 20, `only ${dark} dark caption pixels`);
  await assert.rejects(contactSheet([], { columns: 2 }), /at least one image/);
  await assert.rejects(contactSheet(cells, { columns: 0 }), /columns must be a positive integer/);
});

test('escapeXml escapes the five XML specials', () => {
  assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
});
