/**
 * Image encoding: the project's CHW float images to PNG and back, and contact sheets (a
 * captioned grid) for labelling pages and MLflow "base vs tuned" artifacts.
 */
import sharp, { type OutputInfo } from 'sharp';
import type { Image } from '../domains/shapes/types';

function checkImage(image: Image, what: string): void {
  const { width, height, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`${what} has size ${width}×${height}: width and height must be positive integers.`);
  }
  if (data.length !== 3 * width * height) {
    throw new Error(
      `${what} has ${data.length} values but a 3×${height}×${width} image needs ${3 * width * height}: pass CHW RGB data.`,
    );
  }
}

/**
 * CHW floats in [-1, 1] → interleaved RGB bytes. Done here because sharp reads a
 * Float32Array raw input as 16-bit samples.
 */
export function toRgbBytes(image: Image): Uint8Array {
  const { width, height, data } = image;
  const plane = width * height;
  const out = new Uint8Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.round((data[c * plane + i] + 1) * 127.5);
      out[3 * i + c] = v > 255 ? 255 : v > 0 ? v : 0; // NaN becomes 0
    }
  }
  return out;
}

function scaleOf(scale: number): number {
  if (!Number.isInteger(scale) || scale < 1 || scale > 64) {
    throw new Error(`Image scale ${scale} is not supported: use an integer from 1 to 64.`);
  }
  return scale;
}

/** Encodes an image as PNG, upscaled `scale` times with nearest-neighbour so pixels stay crisp. */
export async function imageToPng(image: Image, options: { scale?: number } = {}): Promise<Buffer> {
  checkImage(image, 'Image');
  const scale = scaleOf(options.scale ?? 1);
  const { width, height } = image;
  return sharp(toRgbBytes(image), { raw: { width, height, channels: 3 } })
    .resize(width * scale, height * scale, { kernel: 'nearest' })
    .png()
    .toBuffer();
}

/** Decodes a PNG (or any format sharp reads) into a CHW image in [-1, 1]; alpha is dropped. */
export async function pngToImage(buffer: Buffer | Uint8Array): Promise<Image> {
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await sharp(buffer)
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new Error(`Cannot decode the image (${(err as Error).message}): pass the bytes of a PNG file.`);
  }
  const { data, info } = decoded;
  const { width, height, channels } = info;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++)
      out[c * plane + i] = data[channels * i + Math.min(c, channels - 1)] / 127.5 - 1;
  }
  return { width, height, data: out };
}

export interface ContactSheetOptions {
  /** Images per row. */
  columns: number;
  /** Nearest-neighbour upscale of every image; default 4 (a 32×32 image becomes 128×128). */
  scale?: number;
  /** A heading across the top of the sheet; default none. */
  title?: string;
}

const PAD = 8;
const FONT_SIZE = 11;
const LINE_HEIGHT = 14;
const TITLE_SIZE = 14;
/** DejaVu Sans advances about 0.6 em per character: used to wrap captions to the cell width. */
const CHAR_WIDTH = 0.6 * FONT_SIZE;

export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
  );
}

/** Greedy word wrap to a character budget; words longer than a line are cut. */
function wrap(text: string, maxChars: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    for (let rest = word; rest.length > 0;) {
      const piece = rest.slice(0, maxChars);
      rest = rest.slice(maxChars);
      if (line === '') line = piece;
      else if (line.length + 1 + piece.length <= maxChars) line += ` ${piece}`;
      else {
        lines.push(line);
        line = piece;
      }
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/**
 * A grid PNG of images, each with its caption underneath (wrapped to the cell width), and
 * an optional title on top. Images may differ in size; each cell fits the largest.
 */
export async function contactSheet(
  cells: { image: Image; caption: string }[],
  options: ContactSheetOptions,
): Promise<Buffer> {
  const { columns, title } = options;
  const scale = scaleOf(options.scale ?? 4);
  if (!Number.isInteger(columns) || columns < 1) {
    throw new Error(`Contact sheet columns must be a positive integer, got ${columns}.`);
  }
  if (cells.length === 0)
    throw new Error('A contact sheet needs at least one image: pass a non-empty list of cells.');
  cells.forEach((cell, k) => checkImage(cell.image, `Contact sheet image ${k}`));
  const cellW = Math.max(...cells.map((c) => c.image.width)) * scale;
  const cellH = Math.max(...cells.map((c) => c.image.height)) * scale;
  const maxChars = Math.max(4, Math.floor(cellW / CHAR_WIDTH));
  const captions = cells.map((c) => wrap(c.caption, maxChars));
  const captionH = Math.max(1, ...captions.map((l) => l.length)) * LINE_HEIGHT;
  const titleH = title ? TITLE_SIZE + PAD : 0;
  const cols = Math.min(columns, cells.length);
  const rows = Math.ceil(cells.length / cols);
  const width = PAD + cols * (cellW + PAD);
  const height = PAD + titleH + rows * (cellH + captionH + PAD);

  const texts: string[] = [];
  const frames: string[] = [];
  if (title) {
    texts.push(
      `<text x="${PAD}" y="${PAD + TITLE_SIZE - 2}" font-size="${TITLE_SIZE}" font-weight="bold">${escapeXml(title)}</text>`,
    );
  }
  const tiles = await Promise.all(
    cells.map(async (cell, k) => {
      const left = PAD + (k % cols) * (cellW + PAD);
      const top = PAD + titleH + Math.floor(k / cols) * (cellH + captionH + PAD);
      captions[k].forEach((line, n) => {
        const y = top + cellH + (n + 1) * LINE_HEIGHT - 3;
        texts.push(`<text x="${left}" y="${y}" font-size="${FONT_SIZE}">${escapeXml(line)}</text>`);
      });
      // A thin frame, so an image on a white background stands apart from the sheet.
      const { width: w, height: h } = cell.image;
      frames.push(
        `<rect x="${left - 0.5}" y="${top - 0.5}" width="${w * scale + 1}" height="${h * scale + 1}" fill="none" stroke="#999"/>`,
      );
      return { input: await imageToPng(cell.image, { scale }), left, top };
    }),
  );
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `${frames.join('')}<g font-family="DejaVu Sans, sans-serif" fill="#000">${texts.join('')}</g></svg>`;
  return sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite([...tiles, { input: Buffer.from(svg), left: 0, top: 0 }])
    .png()
    .toBuffer();
}
