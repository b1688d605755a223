// Training-step time (forward + backward + AdamW update) of a small conv + attention network on
// CPU, with achieved FLOP/s (MatMul/Conv FLOPs of the training graph) and peak memory.
// Baseline in the same run: the forward pass alone. Prints JSON lines for bench/run.ts.
import { readFileSync } from 'node:fs';
import { GraphBuilder } from '../src/train/builder';
import { buildTrainingGraph } from '../src/train/engine';
import { countFlops } from '../src/train/flops';
import { AdamW, constantLr } from '../src/train/optim';
import { Rng } from '../src/train/rng';
import { createSession, runSession } from '../src/train/session';
import { inferShapes } from '../src/train/shapes';
import { Trainer } from '../src/train/trainer';

const N = 2;
const C = 32;
const S = 16;
const STEPS = 12;

function network() {
  const rng = new Rng(1);
  const b = new GraphBuilder();
  const w = (name: string, dims: number[], std: number) =>
    b.initializer(
      name,
      rng.fillNormal(new Float32Array(dims.reduce((p, d) => p * d, 1)), std) as Float32Array,
      dims,
    );
  const ones = (name: string) => b.initializer(name, new Float32Array(C).fill(1), [C]);
  const zeros = (name: string) => b.initializer(name, new Float32Array(C), [C]);
  const x = b.input('x', 'float32', [N, 4, S, S]);
  let h = b.conv(x, w('conv_in.w', [C, 4, 3, 3], 0.2), zeros('conv_in.b'), { pads: [1, 1, 1, 1] });
  // resnet block
  let r = b.silu(b.groupNorm(h, ones('norm1.g'), zeros('norm1.b'), { groups: 8 }));
  r = b.conv(r, w('conv1.w', [C, C, 3, 3], 0.06), zeros('conv1.b'), { pads: [1, 1, 1, 1] });
  r = b.silu(b.groupNorm(r, ones('norm2.g'), zeros('norm2.b'), { groups: 8 }));
  r = b.conv(r, w('conv2.w', [C, C, 3, 3], 0.06), zeros('conv2.b'), { pads: [1, 1, 1, 1] });
  h = b.add(h, r);
  // single-head self-attention over the S*S tokens
  const t = b.transpose(b.reshape(h, [N, C, S * S]), [0, 2, 1]);
  const ln = b.layerNorm(t, ones('ln.g'), zeros('ln.b'));
  const q = b.matmul(ln, w('to_q', [C, C], 0.18));
  const k = b.matmul(ln, w('to_k', [C, C], 0.18));
  const v = b.matmul(ln, w('to_v', [C, C], 0.18));
  const scores = b.mul(b.matmul(q, b.transpose(k, [0, 2, 1])), b.constant(1 / Math.sqrt(C)));
  const attn = b.matmul(b.matmul(b.softmax(scores, -1), v), w('to_out', [C, C], 0.18));
  h = b.add(h, b.reshape(b.transpose(b.add(t, attn), [0, 2, 1]), [N, C, S, S]));
  const out = b.conv(b.silu(h), w('conv_out.w', [4, C, 3, 3], 0.06), undefined, { pads: [1, 1, 1, 1] });
  const target = b.input('target', 'float32', [N, 4, S, S]);
  b.output(b.identity(b.sub(out, target), 'err'), 'float32', [N, 4, S, S]);
  return b.build();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const peakRssMiB = () => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

async function main() {
  const model = network();
  const rng = new Rng(2);
  const feeds = {
    x: {
      dtype: 'float32' as const,
      dims: [N, 4, S, S],
      data: rng.fillNormal(new Float32Array(N * 4 * S * S)) as Float32Array,
    },
    target: {
      dtype: 'float32' as const,
      dims: [N, 4, S, S],
      data: rng.fillNormal(new Float32Array(N * 4 * S * S)) as Float32Array,
    },
  };
  const trainable = (model.graph!.initializer ?? []).map((t) => t.name!);

  // FLOPs of one training step, from the training graph's own measured shapes.
  const training = await buildTrainingGraph(model, { trainable, loss: 'mean-square' });
  const trainInputs = Object.fromEntries(
    (model.graph!.initializer ?? []).map((t) => [t.name!, t.dims!.map(Number)]),
  );
  const flops = countFlops(training, await inferShapes(training, trainInputs));
  const forwardFlops = countFlops(model, await inferShapes(model));

  const rssBefore = peakRssMiB();
  const trainer = await Trainer.create({
    model,
    trainable,
    loss: 'mean-square',
    optimizer: new AdamW(),
    schedule: constantLr(1e-3),
    batch: () => feeds,
  });
  const times: number[] = [];
  const losses: number[] = [];
  await trainer.trainStep(); // warm-up
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    losses.push((await trainer.trainStep()).loss);
    times.push(performance.now() - t0);
  }
  const peak = peakRssMiB();
  await trainer.release();

  const fwd = await createSession(model);
  const fwdTimes: number[] = [];
  await runSession(fwd, feeds);
  for (let i = 0; i < STEPS; i++) {
    const t0 = performance.now();
    await runSession(fwd, feeds);
    fwdTimes.push(performance.now() - t0);
  }
  await fwd.release();

  const ms = median(times);
  const fwdMs = median(fwdTimes);
  const params = trainable.reduce(
    (s, n) =>
      s +
      model
        .graph!.initializer!.find((t) => t.name === n)!
        .dims!.map(Number)
        .reduce((a, b) => a * b, 1),
    0,
  );
  console.log(
    JSON.stringify({
      network: `conv+groupnorm resblock + self-attention, batch ${N}, ${C} channels, ${S}x${S}`,
      params,
      trainingGraphNodes: training.graph!.node!.length,
      stepsTimed: STEPS,
      firstLoss: losses[0],
      lastLoss: losses[losses.length - 1],
    }),
  );
  console.log(
    JSON.stringify({
      metric: 'train step (fwd+bwd+AdamW), median',
      value: ms,
      unit: 'ms',
      baseline: { name: 'forward pass alone', value: fwdMs },
      ratio: ms / fwdMs,
    }),
  );
  console.log(
    JSON.stringify({
      metric: 'train step achieved',
      value: flops / (ms / 1000) / 1e9,
      unit: 'GFLOP/s',
      note: `${(flops / 1e9).toFixed(3)} GFLOP per step (MatMul/Conv)`,
    }),
  );
  console.log(
    JSON.stringify({
      metric: 'forward achieved',
      value: forwardFlops / (fwdMs / 1000) / 1e9,
      unit: 'GFLOP/s',
    }),
  );
  console.log(
    JSON.stringify({
      metric: 'peak RSS after training steps',
      value: peak,
      unit: 'MiB',
      note: `${rssBefore.toFixed(0)} MiB before the training session; CPU arena and memory pattern off`,
    }),
  );
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
