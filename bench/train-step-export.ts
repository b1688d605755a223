// Writes a bench network (bench/train-nets.ts) for bench/train_step_torch.py, which rebuilds it
// in PyTorch: the ONNX model, its graph as JSON (nodes, attributes, constants), its weights and
// one step's data as raw little-endian float32, and alignrun's own results on that data (the
// losses of the first training steps and the initial gradient norms) so the PyTorch side can
// check it computes the same function, gradients and updates.
//
//   node --import tsx bench/train-step-export.ts OUT_DIR [unet|block]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildTrainingGraph, gradName, LOSS } from '../src/train/engine';
import { countFlops } from '../src/train/flops';
import { type TensorValue, encodeModel, tensorValue, toNumber } from '../src/train/ir';
import type { onnx } from '../src/train/onnx';
import { AdamW, constantLr } from '../src/train/optim';
import { createSession, runSession } from '../src/train/session';
import { inferShapes } from '../src/train/shapes';
import { Trainer } from '../src/train/trainer';
import { benchNet } from './train-nets';

const LR = 1e-3;
const STEPS = 3;

/** Packs float32 tensors into one buffer; returns their entries (offset in bytes). */
function pack(tensors: [string, TensorValue][]) {
  const entries: { name: string; dims: number[]; offset: number }[] = [];
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, v] of tensors) {
    if (v.dtype !== 'float32') throw new Error(`'${name}' is ${v.dtype}; the export writes float32 only.`);
    const bytes = Buffer.from(Float32Array.from(v.data as Float32Array).buffer);
    entries.push({ name, dims: v.dims, offset });
    parts.push(bytes);
    offset += bytes.length;
  }
  return { entries, data: Buffer.concat(parts) };
}

function attrJson(a: onnx.IAttributeProto): unknown {
  if (a.t) {
    const v = tensorValue(a.t);
    return {
      tensor: {
        dtype: v.dtype,
        dims: v.dims,
        data: Array.from(v.data as ArrayLike<number | bigint>, Number),
      },
    };
  }
  if (a.s && a.s.length) return new TextDecoder().decode(a.s);
  if (a.ints && a.ints.length) return a.ints.map(toNumber);
  if (a.floats && a.floats.length) return [...a.floats];
  // INT = 2, FLOAT = 1 (AttributeProto.AttributeType)
  return a.type === 1 ? (a.f ?? 0) : toNumber(a.i);
}

async function main(argv: string[]) {
  const [outArg, which = 'unet'] = argv;
  if (!outArg) {
    console.error('usage: node --import tsx bench/train-step-export.ts OUT_DIR [unet|block]');
    process.exit(2);
  }
  const out = resolve(outArg);
  mkdirSync(out, { recursive: true });
  const net = benchNet(which);
  const { model, feeds, output } = net;
  const g = model.graph!;
  const trainable = (g.initializer ?? []).map((t) => t.name!);
  writeFileSync(join(out, 'model.onnx'), encodeModel(model));

  const weights = pack((g.initializer ?? []).map((t) => [t.name!, tensorValue(t)]));
  writeFileSync(join(out, 'weights.bin'), weights.data);
  const inputs = pack(Object.entries(feeds));
  writeFileSync(join(out, 'inputs.bin'), inputs.data);
  const graph = {
    network: net.name,
    opset: Number((model.opsetImport ?? []).find((o) => !o.domain)?.version ?? 17),
    inputs: (g.input ?? []).map((i) => i.name),
    outputs: (g.output ?? []).map((o) => o.name),
    nodes: (g.node ?? []).map((n) => ({
      op: n.opType,
      name: n.name,
      inputs: n.input,
      outputs: n.output,
      attrs: Object.fromEntries((n.attribute ?? []).map((a) => [a.name, attrJson(a)])),
    })),
  };
  writeFileSync(join(out, 'graph.json'), JSON.stringify(graph));

  // alignrun's results on the same data: initial loss and gradient norms, losses of a few steps.
  const training = await buildTrainingGraph(model, { trainable, loss: 'mean-square', output });
  const session = await createSession(training);
  const params = Object.fromEntries((g.initializer ?? []).map((t) => [t.name!, tensorValue(t)]));
  const r = await runSession(session, { ...feeds, ...params });
  await session.release();
  const gradNorms = Object.fromEntries(
    trainable.map((p) => [
      p,
      Math.sqrt((r[gradName(p)].data as Float32Array).reduce((a, v) => a + v * v, 0)),
    ]),
  );
  const trainer = await Trainer.create({
    model,
    trainable,
    loss: 'mean-square',
    output,
    optimizer: new AdamW(),
    schedule: constantLr(LR),
    batch: () => feeds,
  });
  const losses = (await trainer.run(STEPS)).map((s) => s.loss);
  await trainer.release();

  const paramDims = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, v.dims]));
  const spec = {
    network: net.name,
    inputShapes: Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, v.dims])),
    inputs: inputs.entries,
    weights: weights.entries,
    trainable,
    loss: { kind: 'mean-square', output },
    optimizer: { kind: 'AdamW', lr: LR, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 },
    flops: {
      forward: countFlops(model, await inferShapes(model)),
      trainStep: countFlops(training, await inferShapes(training, paramDims)),
      note: 'MatMul/Gemm/Conv FLOPs of alignrun graphs (src/train/flops.ts)',
    },
    reference: { loss: Number((r[LOSS].data as Float32Array)[0]), gradNorms, lossesPerStep: losses },
  };
  writeFileSync(join(out, 'inputs.json'), `${JSON.stringify(spec, null, 1)}\n`);
  console.log(`wrote ${out}: model.onnx, graph.json, weights.bin, inputs.bin, inputs.json (${net.name})`);
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
