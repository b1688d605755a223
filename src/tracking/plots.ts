// Small PNG plots for MLflow, drawn as SVG and rasterised by sharp (librsvg; no browser): line
// plots (loss curves), grouped bar charts (alignment by category, base vs tuned) and histograms
// (reward by label). Each has a title, labelled axes with round tick values and a legend.
import sharp from 'sharp';

export interface PlotSize {
  /** Pixels. Default 640 x 400. */
  width?: number;
  height?: number;
}

export interface LineSeries {
  name: string;
  /** [x, y] points; non-finite values are skipped. */
  points: [number, number][];
}

export interface LinePlot extends PlotSize {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
}

export interface BarChart extends PlotSize {
  title: string;
  yLabel: string;
  /** One group of bars per category (e.g. color, count, background). */
  categories: string[];
  /** One bar per series in each category (e.g. base, tuned); `values[i]` belongs to `categories[i]`. */
  series: { name: string; values: number[] }[];
}

export interface Histogram extends PlotSize {
  title: string;
  xLabel: string;
  /** Distributions drawn over each other with shared bins (e.g. reward of good vs bad images). */
  groups: { name: string; values: number[] }[];
  /** Default 20. */
  bins?: number;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const FONT = 'font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif"';
const MARGIN = { left: 64, right: 16, top: 36, bottom: 52 };

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** About `count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
    return niceTicks(min - pad, max + pad, count);
  }
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(v);
  if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
  return ticks.map((t) => Number(t.toPrecision(12)));
}

const fmt = (v: number) => {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
};

interface Frame {
  width: number;
  height: number;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

function frame(size: PlotSize): Frame {
  const width = size.width ?? 640;
  const height = size.height ?? 400;
  if (!(width >= 160 && height >= 120 && width <= 4096 && height <= 4096)) {
    throw new Error(`A plot must be 160x120 to 4096x4096 pixels, not ${width}x${height}.`);
  }
  return {
    width,
    height,
    x0: MARGIN.left,
    x1: width - MARGIN.right,
    y0: height - MARGIN.bottom,
    y1: MARGIN.top,
  };
}

// Background, title, y axis with grid lines and label, x axis label; returns the y scale.
function axes(f: Frame, title: string, xLabel: string, yLabel: string, yTicks: number[]) {
  const [lo, hi] = [yTicks[0], yTicks[yTicks.length - 1]];
  const y = (v: number) => f.y0 - ((v - lo) / (hi - lo)) * (f.y0 - f.y1);
  const parts = [
    `<rect width="${f.width}" height="${f.height}" fill="white"/>`,
    `<text x="${f.width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold" ${FONT}>${esc(title)}</text>`,
  ];
  for (const t of yTicks) {
    parts.push(
      `<line x1="${f.x0}" x2="${f.x1}" y1="${y(t)}" y2="${y(t)}" stroke="#e5e5e5"/>`,
      `<text x="${f.x0 - 6}" y="${y(t) + 4}" text-anchor="end" font-size="11" ${FONT}>${fmt(t)}</text>`,
    );
  }
  parts.push(
    `<line x1="${f.x0}" x2="${f.x0}" y1="${f.y1}" y2="${f.y0}" stroke="#333"/>`,
    `<line x1="${f.x0}" x2="${f.x1}" y1="${f.y0}" y2="${f.y0}" stroke="#333"/>`,
    `<text x="${(f.x0 + f.x1) / 2}" y="${f.height - 10}" text-anchor="middle" font-size="12" ${FONT}>${esc(xLabel)}</text>`,
    `<text x="16" y="${(f.y0 + f.y1) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 16 ${(f.y0 + f.y1) / 2})" ${FONT}>${esc(yLabel)}</text>`,
  );
  return { y, parts };
}

function legend(f: Frame, names: string[]): string[] {
  if (names.length === 0) return [];
  // A white box under the legend keeps it readable where it covers data.
  const box = `<rect x="${f.x1 - 136}" y="${f.y1 + 2}" width="132" height="${names.length * 16 + 8}" fill="white" fill-opacity="0.85" stroke="#ddd"/>`;
  return [
    box,
    ...names.map((name, i) => {
      const ly = f.y1 + 8 + i * 16;
      const lx = f.x1 - 130;
      return (
        `<rect x="${lx}" y="${ly}" width="12" height="10" fill="${PALETTE[i % PALETTE.length]}"/>` +
        `<text x="${lx + 18}" y="${ly + 9}" font-size="11" ${FONT}>${esc(name)}</text>`
      );
    }),
  ];
}

const svg = (f: Frame, parts: string[]) =>
  `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}">${parts.join('')}</svg>`;

export function linePlotSvg(p: LinePlot): string {
  const f = frame(p);
  const series = p.series.map((s) => ({
    ...s,
    points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)),
  }));
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) throw new Error(`Line plot '${p.title}' has no finite points to draw.`);
  const xs = all.map((q) => q[0]);
  const ys = all.map((q) => q[1]);
  const xTicks = niceTicks(Math.min(...xs), Math.max(...xs));
  const yTicks = niceTicks(Math.min(...ys), Math.max(...ys));
  const { y, parts } = axes(f, p.title, p.xLabel, p.yLabel, yTicks);
  const [xl, xh] = [xTicks[0], xTicks[xTicks.length - 1]];
  const x = (v: number) => f.x0 + ((v - xl) / (xh - xl)) * (f.x1 - f.x0);
  for (const t of xTicks) {
    parts.push(
      `<text x="${x(t)}" y="${f.y0 + 16}" text-anchor="middle" font-size="11" ${FONT}>${fmt(t)}</text>`,
    );
  }
  series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const d = s.points.map(([px, py], j) => `${j ? 'L' : 'M'}${x(px).toFixed(1)},${y(py).toFixed(1)}`);
    if (s.points.length === 1) {
      const [[px, py]] = s.points;
      parts.push(`<circle cx="${x(px)}" cy="${y(py)}" r="3" fill="${colour}"/>`);
    } else {
      parts.push(`<path d="${d.join('')}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    }
  });
  parts.push(...legend(f, series.length > 1 ? series.map((s) => s.name) : []));
  return svg(f, parts);
}

export function barChartSvg(p: BarChart): string {
  const f = frame(p);
  if (p.categories.length === 0 || p.series.length === 0)
    throw new Error(`Bar chart '${p.title}' needs at least one category and one series.`);
  for (const s of p.series) {
    if (s.values.length !== p.categories.length)
      throw new Error(
        `Bar chart '${p.title}': series '${s.name}' has ${s.values.length} values for ${p.categories.length} categories.`,
      );
  }
  const values = p.series.flatMap((s) => s.values).filter(Number.isFinite);
  // Headroom above the tallest bar for the legend.
  const yTicks = niceTicks(Math.min(0, ...values), Math.max(0, ...values) * (p.series.length > 1 ? 1.2 : 1));
  const { y, parts } = axes(f, p.title, '', p.yLabel, yTicks);
  const slot = (f.x1 - f.x0) / p.categories.length;
  const barW = (slot * 0.8) / p.series.length;
  p.categories.forEach((cat, c) => {
    const left = f.x0 + c * slot + slot * 0.1;
    p.series.forEach((s, i) => {
      const v = s.values[c];
      if (!Number.isFinite(v)) return;
      const top = Math.min(y(v), y(0));
      const h = Math.abs(y(v) - y(0));
      parts.push(
        `<rect x="${(left + i * barW).toFixed(1)}" y="${top.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[i % PALETTE.length]}"/>`,
      );
    });
    parts.push(
      `<text x="${f.x0 + (c + 0.5) * slot}" y="${f.y0 + 18}" text-anchor="middle" font-size="12" ${FONT}>${esc(cat)}</text>`,
    );
  });
  parts.push(...legend(f, p.series.length > 1 ? p.series.map((s) => s.name) : []));
  return svg(f, parts);
}

export function histogramSvg(p: Histogram): string {
  const f = frame(p);
  const bins = p.bins ?? 20;
  if (!Number.isInteger(bins) || bins < 1)
    throw new Error(`Histogram '${p.title}' needs a whole number of bins.`);
  const groups = p.groups.map((g) => ({ ...g, values: g.values.filter(Number.isFinite) }));
  const all = groups.flatMap((g) => g.values);
  if (all.length === 0) throw new Error(`Histogram '${p.title}' has no finite values to count.`);
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (lo === hi) [lo, hi] = [lo - 0.5, hi + 0.5];
  const width = (hi - lo) / bins;
  const counts = groups.map((g) => {
    const c = new Array<number>(bins).fill(0);
    for (const v of g.values) c[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
    return c;
  });
  const yTicks = niceTicks(0, Math.max(...counts.flat()));
  const { y, parts } = axes(f, p.title, p.xLabel, 'count', yTicks);
  const x = (v: number) => f.x0 + ((v - lo) / (hi - lo)) * (f.x1 - f.x0);
  for (const t of niceTicks(lo, hi).filter((t) => t >= lo - 1e-9 && t <= hi + 1e-9)) {
    parts.push(
      `<text x="${x(t)}" y="${f.y0 + 16}" text-anchor="middle" font-size="11" ${FONT}>${fmt(t)}</text>`,
    );
  }
  counts.forEach((c, i) => {
    const colour = PALETTE[i % PALETTE.length];
    c.forEach((n, b) => {
      if (n === 0) return;
      const bx = x(lo + b * width);
      parts.push(
        `<rect x="${bx.toFixed(1)}" y="${y(n).toFixed(1)}" width="${Math.max(1, x(lo + (b + 1) * width) - bx - 1).toFixed(1)}" height="${(f.y0 - y(n)).toFixed(1)}" fill="${colour}" fill-opacity="${groups.length > 1 ? 0.55 : 0.85}"/>`,
      );
    });
  });
  parts.push(...legend(f, groups.length > 1 ? groups.map((g) => g.name) : []));
  return svg(f, parts);
}

const toPng = (svgText: string) => sharp(Buffer.from(svgText)).png().toBuffer();

/** A line plot (e.g. loss per step) as PNG bytes. */
export const linePlot = (p: LinePlot): Promise<Buffer> => toPng(linePlotSvg(p));
/** A grouped bar chart (e.g. alignment by category, base vs tuned) as PNG bytes. */
export const barChart = (p: BarChart): Promise<Buffer> => toPng(barChartSvg(p));
/** Overlaid histograms with shared bins (e.g. reward by label) as PNG bytes. */
export const histogram = (p: Histogram): Promise<Buffer> => toPng(histogramSvg(p));
