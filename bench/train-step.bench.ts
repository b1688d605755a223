// Training-step time (forward + backward + AdamW update) on CPU, against the forward pass alone
// measured in the same run, with achieved FLOP/s (MatMul/Gemm/Conv FLOPs of each graph) and peak
// memory. Networks: the tiny UNet at batch 8 (what alignrun fine-tunes) and a small conv +
// attention block (bench/train-nets.ts). Prints JSON lines for bench/run.ts.
//
//   node --import tsx bench/train-step.bench.ts [block|unet ...] [--steps N]
import { buildTrainingGraph } from '../src/train/engine';
import { countFlops } from '../src/train/flops';
import { AdamW, constantLr } from '../src/train/optim';
import { createSession, runSession } from '../src/train/session';
import { inferShapes } from '../src/train/shapes';
import { Trainer } from '../src/train/trainer';
import { type BenchNet, benchNet } from './train-nets';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function bench(net: BenchNet, title: string, batch: number, steps: number) {
  const { model, feeds, output } = net;
  const trainable = (model.graph!.initializer ?? []).map((t) => t.name!);

  const trainer = await Trainer.create({
    model,
    trainable,
    loss: 'mean-square',
    output,
    optimizer: new AdamW(),
    schedule: constantLr(1e-3),
    batch: () => feeds,
  });
  const times: number[] = [];
  const peaks: number[] = [];
  const losses: number[] = [];
  await trainer.trainStep(); // warm-up
  for (let i = 0; i < steps; i++) {
    losses.push((await trainer.trainStep()).loss);
    times.push(trainer.lastStepStats!.ms);
    peaks.push(trainer.lastStepStats!.peakRssBytes);
  }
  const memory = trainer.memory;
  await trainer.release();

  // The forward pass as inference runs it (weights are constants, which onnxruntime may pre-pack),
  // with the trainer's session options (no spin-waiting), so the ratio compares like with like.
  const fwd = await createSession(model, { spinning: false });
  const fwdTimes: number[] = [];
  await runSession(fwd, feeds);
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    await runSession(fwd, feeds);
    fwdTimes.push(performance.now() - t0);
  }
  await fwd.release();

  // FLOPs of one training step, from the training graph's own measured shapes (after the timing:
  // measuring them holds every intermediate at once, and the RSS would stay that high).
  const training = await buildTrainingGraph(model, { trainable, loss: 'mean-square', output });
  const paramDims = Object.fromEntries(
    (model.graph!.initializer ?? []).map((t) => [t.name!, t.dims!.map(Number)]),
  );
  const flops = countFlops(training, await inferShapes(training, paramDims));
  const forwardFlops = countFlops(model, await inferShapes(model));

  const ms = median(times);
  const fwdMs = median(fwdTimes);
  const params = Object.values(paramDims).reduce((s, d) => s + d.reduce((a, b) => a * b, 1), 0);
  console.log(
    JSON.stringify({
      network: net.name,
      params,
      trainingGraphNodes: training.graph!.node!.length,
      stepsTimed: steps,
      stepMsMin: Math.min(...times),
      forwardMsMin: Math.min(...fwdTimes),
      firstLoss: losses[0],
      lastLoss: losses[losses.length - 1],
    }),
  );
  console.log(
    JSON.stringify({
      metric: `${title} train step (fwd+bwd+AdamW), batch ${batch}`,
      value: ms,
      unit: 'ms',
      baseline: { name: 'forward only', value: fwdMs },
      ratio: ms / fwdMs,
    }),
  );
  const gflops = flops / (ms / 1000) / 1e9;
  const fwdGflops = forwardFlops / (fwdMs / 1000) / 1e9;
  console.log(
    JSON.stringify({
      metric: `${title} train step GFLOP/s, batch ${batch}`,
      value: gflops,
      unit: 'GFLOP/s',
      baseline: { name: 'forward only', value: fwdGflops },
      ratio: gflops / fwdGflops,
      note: `${(flops / 1e9).toFixed(3)} GFLOP per step, ${(forwardFlops / 1e9).toFixed(3)} forward (MatMul/Gemm/Conv)`,
    }),
  );
  console.log(
    JSON.stringify({
      metric: `${title} train step peak RSS, batch ${batch}`,
      value: median(peaks) / 2 ** 20,
      unit: 'MiB',
      note: `process RSS high-water mark over a step (Trainer.lastStepStats); activations kept for the backward pass ${(memory.savedActivationBytes / 2 ** 20).toFixed(1)} MiB, weights ${(memory.parameterBytes / 2 ** 20).toFixed(1)} MiB; CPU arena and memory pattern off`,
    }),
  );
}

async function main(argv: string[]) {
  const i = argv.indexOf('--steps');
  const steps = i >= 0 ? Number(argv[i + 1]) : 12;
  const names = argv.filter((a, k) => !a.startsWith('--') && argv[k - 1] !== '--steps');
  // The small block first: the UNet's FLOP probe leaves the process RSS high for what follows.
  for (const which of names.length ? names : ['block', 'unet']) {
    const net = benchNet(which);
    const batch = Number(net.model.graph!.input![0].type!.tensorType!.shape!.dim![0].dimValue);
    await bench(net, which === 'unet' ? 'tiny UNet' : 'conv+attention block', batch, steps);
  }
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
