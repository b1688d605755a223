// Where a training step spends its time: runs the training graph of a bench network with
// onnxruntime's profiler and prints the costliest op types and nodes (mean over the runs).
//
//   node --import tsx bench/train-profile.ts [unet|block] [--runs N] [--forward]
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildTrainingGraph } from '../src/train/engine';
import { encodeModel } from '../src/train/ir';
import { toOrt } from '../src/train/session';
import { benchNet } from './train-nets';

interface Event {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

async function main(argv: string[]) {
  const which = argv.find((a) => !a.startsWith('--')) ?? 'unet';
  const runs = Number(argv[argv.indexOf('--runs') + 1] ?? 0) || 10;
  const net = benchNet(which);
  const trainable = (net.model.graph!.initializer ?? []).map((t) => t.name!);
  const graph = argv.includes('--forward')
    ? net.model
    : await buildTrainingGraph(net.model, { trainable, loss: 'mean-square', output: net.output });
  const session = await ort.InferenceSession.create(encodeModel(graph), {
    executionProviders: ['cpu'],
    enableCpuMemArena: false,
    enableMemPattern: false,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    enableProfiling: true,
    profileFilePrefix: join(tmpdir(), `alignrun-profile-${process.pid}`),
  });
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(net.feeds)) feeds[k] = toOrt(v);
  for (const t of net.model.graph!.initializer ?? []) {
    if (!graph.graph!.input!.some((i) => i.name === t.name)) continue;
    feeds[t.name!] = new ort.Tensor(
      'float32',
      new Float32Array(t.rawData!.slice().buffer),
      t.dims!.map(Number),
    );
  }
  await session.run(feeds);
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await session.run(feeds);
  const wall = (performance.now() - t0) / runs;
  session.endProfiling();
  await session.release();
  // The binding does not return the file name: it is the prefix plus a timestamp.
  const base = `alignrun-profile-${process.pid}`;
  const found = readdirSync(tmpdir()).filter((f) => f.startsWith(base));
  if (found.length !== 1) throw new Error(`Expected one profile file ${base}* in ${tmpdir()}.`);
  const file = join(tmpdir(), found[0]);
  const events = JSON.parse(readFileSync(file, 'utf8')) as Event[];
  rmSync(file, { force: true });
  // Per node, the fastest of its runs: other processes sharing the cores inflate the mean.
  const perNode = new Map<string, { op: string; durs: number[] }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const name = e.name.replace(/_kernel_time$/, '');
    const n = perNode.get(name) ?? { op: e.args?.op_name ?? '?', durs: [] };
    n.durs.push(e.dur);
    perNode.set(name, n);
  }
  const byType = new Map<string, { us: number; count: number }>();
  const byNode = new Map<string, { us: number; op: string }>();
  for (const [name, n] of perNode) {
    const us = Math.min(...n.durs);
    byNode.set(name, { us, op: n.op });
    const t = byType.get(n.op) ?? { us: 0, count: 0 };
    t.us += us;
    t.count++;
    byType.set(n.op, t);
  }
  const total = [...byType.values()].reduce((s, t) => s + t.us, 0);
  console.log(
    `${net.name}: ${graph.graph!.node!.length} nodes, wall ${wall.toFixed(2)} ms/run, sum of per-node minima ${(total / 1000).toFixed(2)} ms`,
  );
  const rows = [...byType.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, 16);
  for (const [op, t] of rows)
    console.log(
      `  ${op.padEnd(28)} ${(t.us / 1000).toFixed(3).padStart(8)} ms  ${String(t.count).padStart(5)} nodes`,
    );
  console.log('costliest nodes:');
  for (const [name, n] of [...byNode.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, 20))
    console.log(`  ${(n.us / 1000).toFixed(3).padStart(8)} ms  ${n.op.padEnd(20)} ${name}`);
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
