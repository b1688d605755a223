/**
 * The three shapes as pixel-centre coverage tests inside an axis-aligned box. The renderer
 * draws with them and the judge uses them as templates, so both agree on what a shape is.
 */
import type { Shape } from './types';

/** An axis-aligned box in pixels: top-left corner and size. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Whether the point (px, py) lies inside `shape` fitted to `box`: the inscribed ellipse,
 * the whole box, or the upright isosceles triangle with its apex at the top centre.
 */
export function insideShape(shape: Shape, px: number, py: number, box: Box): boolean {
  const { x, y, w, h } = box;
  if (py < y || py > y + h || px < x || px > x + w) return false;
  switch (shape) {
    case 'square':
      return true;
    case 'circle': {
      const dx = (px - (x + w / 2)) / (w / 2);
      const dy = (py - (y + h / 2)) / (h / 2);
      return dx * dx + dy * dy <= 1;
    }
    case 'triangle':
      return Math.abs(px - (x + w / 2)) <= ((w / 2) * (py - y)) / h;
  }
}

/** Pixels (row-major indices into a width×height grid) whose centres `shape` in `box` covers. */
export function shapePixels(shape: Shape, box: Box, width: number, height: number): number[] {
  const out: number[] = [];
  const x0 = Math.max(0, Math.floor(box.x));
  const x1 = Math.min(width - 1, Math.ceil(box.x + box.w));
  const y0 = Math.max(0, Math.floor(box.y));
  const y1 = Math.min(height - 1, Math.ceil(box.y + box.h));
  for (let py = y0; py <= y1; py++) {
    for (let px = x0; px <= x1; px++) {
      if (insideShape(shape, px + 0.5, py + 0.5, box)) out.push(py * width + px);
    }
  }
  return out;
}
