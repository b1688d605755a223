/**
 * Tiny-model generation speed on CPU: images/s of the whole pipeline (8 images, 20 steps, with
 * classifier-free guidance, so the UNet sees batches of 16) and the UNet step time, under
 * onnxruntime-node (in the worker thread the pipeline uses, and on the main thread) and under
 * onnxruntime in Python on the same ONNX file in the same run. Prints JSON of medians.
 *
 *   node --import tsx bench/generate.bench.ts [--runs 15]
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { DiffusionPipeline } from '../src/model/pipeline';
import { OnnxWorker, type TensorData } from '../src/model/session';

const root = fileURLToPath(new URL('..', import.meta.url));
const modelDir = `${root}models/tiny-random`;
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 15;
const BATCH = 16;
const IMAGES = 8;
const STEPS = 20;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The feeds generate_ort.py builds, from the same formulas. */
function feeds(): Record<string, TensorData> {
  return {
    sample: {
      dtype: 'float32',
      dims: [BATCH, 3, 32, 32],
      data: Float32Array.from({ length: BATCH * 3 * 32 * 32 }, (_, i) => Math.sin(i)),
    },
    timestep: { dtype: 'float32', dims: [BATCH], data: new Float32Array(BATCH).fill(500) },
    encoder_hidden_states: {
      dtype: 'float32',
      dims: [BATCH, 16, 64],
      data: Float32Array.from({ length: BATCH * 16 * 64 }, (_, i) => Math.cos(i)),
    },
  };
}

async function time(fn: () => Promise<unknown>, runs: number, warmup = 3): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return median(ms);
}

async function main(): Promise<void> {
  const unetPath = `${modelDir}/unet/model.onnx`;
  const main = await ort.InferenceSession.create(unetPath, {
    executionProviders: ['cpu'],
    enableCpuMemArena: false,
    enableMemPattern: false,
    graphOptimizationLevel: 'all',
  });
  const mainFeeds = Object.fromEntries(
    Object.entries(feeds()).map(([k, t]) => [k, new ort.Tensor(t.dtype, t.data, t.dims)]),
  );
  const worker = new OnnxWorker();
  await worker.load('unet', unetPath);

  // Interleave the three runtimes so load from other processes hits them alike.
  const nodeMain: number[] = [];
  const nodeWorker: number[] = [];
  const python: number[] = [];
  for (let round = 0; round < 3; round++) {
    nodeMain.push(await time(() => main.run(mainFeeds), RUNS));
    nodeWorker.push(await time(() => worker.run('unet', feeds()), RUNS));
    const out = execFileSync(`${root}.venv/bin/python`, [
      `${root}bench/generate_ort.py`,
      modelDir,
      '--batch',
      String(BATCH),
      '--runs',
      String(RUNS),
    ]);
    python.push(JSON.parse(out.toString()).unetStepMs);
  }
  await main.release();
  await worker.close();

  const pipeline = await DiffusionPipeline.open(modelDir);
  const prompts = Array.from({ length: IMAGES }, (_, i) => ['a red circle', 'two blue squares'][i % 2]);
  const generateMs = await time(
    () =>
      pipeline.generate({
        prompts,
        seeds: prompts.map((_, i) => i),
        scheduler: 'dpmpp_2m',
        steps: STEPS,
        guidanceScale: 7.5,
      }),
    3,
    1,
  );
  await pipeline.close();

  const unetNode = median(nodeMain);
  const unetPython = median(python);
  // Result lines for bench/run.ts: onnxruntime-node against Python onnxruntime on the same file.
  const line = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
  const py = { name: 'Python onnxruntime, same ONNX file', value: unetPython };
  line({
    metric: `tiny UNet step, batch ${BATCH} (main thread)`,
    value: unetNode,
    unit: 'ms',
    baseline: py,
    ratio: unetPython / unetNode,
  });
  line({
    metric: `tiny UNet step, batch ${BATCH} (worker thread)`,
    value: median(nodeWorker),
    unit: 'ms',
    baseline: py,
    ratio: unetPython / median(nodeWorker),
  });
  line({
    metric: `tiny model generation, ${STEPS} steps, guidance 7.5`,
    value: (IMAGES * 1000) / generateMs,
    unit: 'images/s',
  });
  console.log(
    JSON.stringify({
      model: 'models/tiny-random',
      unetBatch: BATCH,
      unetStepMs: { nodeMainThread: unetNode, nodeWorker: median(nodeWorker), python: unetPython },
      // Python time over Node time: 1 means the same speed, above 1 Node is faster (goal >= 0.9).
      pythonOverNode: unetPython / unetNode,
      pythonOverNodeWorker: unetPython / median(nodeWorker),
      generate: {
        images: IMAGES,
        steps: STEPS,
        guidanceScale: 7.5,
        ms: generateMs,
        imagesPerSecond: (IMAGES * 1000) / generateMs,
      },
      onnxruntimeNode: ort.env.versions.node,
      cores: (await import('node:os')).availableParallelism(),
    }),
  );
}

await main();
