// Pretraining of the tiny model on the lent GPU machine (16 cores, WebGPU), bundled by
// ../shared/gpu/pack.sh. Probes the step time of each execution provider on a copy of the
// starting folder, picks the faster, sizes the cosine schedule to the time budget, and trains.
//
//   node .gpu/gpu-pretrain.cjs BASE_DIR START_DIR OUT_DIR MINUTES BATCH LR
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { pretrain } from '../src/finetune/pretrain';

const [baseDir, startDir, outDir, minutesArg, batchArg, lrArg] = process.argv.slice(2);
const t0 = Date.now();
const budgetMs = Number(minutesArg) * 60_000;
const batch = Number(batchArg);
const lr = Number(lrArg);
const log = (o: Record<string, unknown>) =>
  console.log(JSON.stringify({ t: Math.round((Date.now() - t0) / 1000), ...o }));

async function probe(provider: string): Promise<number> {
  const dir = `/tmp/probe-${provider}`;
  rmSync(dir, { recursive: true, force: true });
  cpSync(startDir, dir, { recursive: true });
  const times: number[] = [];
  let last = 0;
  let from = 0;
  try {
    await pretrain({
      baseDir,
      outDir: dir,
      params: {
        steps: 1_000_000,
        batch_size: batch,
        learning_rate: lr,
        data: { size: 256 },
        checkpoint_every: 1_000_000,
      },
      session: { executionProviders: [provider] },
      onProgress: ({ step }) => {
        const now = Date.now();
        if (from === 0) from = step;
        else times.push(now - last);
        last = now;
        if (step - from >= 8) throw new Error('probe done');
      },
    });
  } catch (e) {
    if ((e as Error).message !== 'probe done') {
      log({ provider, error: String((e as Error).message).slice(0, 300) });
      return Infinity;
    }
  }
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)];
  log({ provider, msPerStep: ms });
  return ms;
}

async function main(): Promise<void> {
  const cpu = await probe('cpu');
  const webgpu = await probe('webgpu');
  const provider = webgpu < cpu ? 'webgpu' : 'cpu';
  const msPerStep = Math.min(cpu, webgpu);
  const startStep = (
    JSON.parse(readFileSync(`${startDir}/checkpoint/checkpoint.json`, 'utf8')) as { step: number }
  ).step;
  const left = budgetMs - (Date.now() - t0);
  const steps = startStep + Math.max(1, Math.floor((0.85 * left) / msPerStep));
  log({ chosen: provider, startStep, steps });
  rmSync(outDir, { recursive: true, force: true });
  cpSync(startDir, outDir, { recursive: true });
  let sum = 0;
  let n = 0;
  await pretrain({
    baseDir,
    outDir,
    params: {
      steps,
      batch_size: batch,
      learning_rate: lr,
      data: { size: 8192 },
      checkpoint_every: 250,
      optimizer: { schedule: 'cosine', warmup_steps: 0 },
    },
    session: { executionProviders: [provider] },
    deadline: t0 + budgetMs - 20_000,
    onProgress: ({ step, loss }) => {
      sum += loss;
      n++;
      if (step % 100 === 0) {
        log({ step, steps, loss: +(sum / n).toFixed(4) });
        sum = 0;
        n = 0;
      }
    },
  });
  log({ done: true });
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
