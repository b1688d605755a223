// `npm run bench`: runs every bench/*.bench.ts in its own process (one at a time, so they do not
// compete for the 2 cores) and writes bench/RESULTS.md. A benchmark prints JSON lines; a line
// with "metric" is a result: { metric, value, unit, baseline?: { name, value }, ratio? }, where
// the baseline was measured in the same run. Other JSON lines are kept as details.
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

interface Result {
  metric: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  ratio?: number;
  note?: string;
}

const dir = fileURLToPath(new URL('.', import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const fmt = (v: number) =>
  Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
const sections: string[] = [];
let failed = 0;
for (const f of files) {
  process.stderr.write(`bench: ${f} ...\n`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${dir}${f}`], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const secs = ((performance.now() - t0) / 1000).toFixed(0);
  const results: Result[] = [];
  const details: unknown[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (typeof o.metric === 'string' && typeof o.value === 'number') results.push(o as unknown as Result);
      else details.push(o);
    } catch {
      // not a JSON line: part of the benchmark's own log
    }
  }
  const lines = [`## ${f.replace('.bench.ts', '')}`, ''];
  if (r.status !== 0) {
    failed++;
    lines.push(`**failed** (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' / ')}`, '');
  }
  if (results.length) {
    lines.push(
      '| metric | value | unit | baseline (same run) | ratio |',
      '| --- | ---: | --- | --- | ---: |',
    );
    for (const x of results) {
      const base = x.baseline ? `${x.baseline.name}: ${fmt(x.baseline.value)}` : '';
      lines.push(
        `| ${x.metric} | ${fmt(x.value)} | ${x.unit} | ${base} | ${x.ratio !== undefined ? fmt(x.ratio) : ''} |`,
      );
    }
    lines.push('');
  }
  if (details.length)
    lines.push(
      '<details><summary>details</summary>',
      '',
      '```json',
      ...details.map((d) => JSON.stringify(d)),
      '```',
      '</details>',
      '',
    );
  lines.push(`_${secs} s_`, '');
  sections.push(lines.join('\n'));
}

const header = [
  '# Benchmark results',
  '',
  `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ` +
    `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}. Each figure is a median; every ratio is against a ` +
    'baseline measured in the same run.',
  '',
].join('\n');
writeFileSync(`${dir}RESULTS.md`, header + '\n' + sections.join('\n'));
process.stderr.write(
  `bench: wrote bench/RESULTS.md (${files.length} benchmark${files.length === 1 ? '' : 's'}, ${failed} failed)\n`,
);
process.exitCode = failed ? 1 : 0;
