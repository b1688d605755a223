/**
 * Device check for the lent GPU machine (bundled by ../shared/gpu/pack.sh, run with Node there):
 * the tiny UNet's step time on cpu and webgpu under onnxruntime-node, the largest difference
 * between their outputs, and the same file under Python onnxruntime (CPU) on the same machine.
 *
 *   node .gpu/generate-gpu.cjs MODEL_DIR OUT_JSON
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

const [modelDir, outFile] = process.argv.slice(2);
const BATCH = 16;
const RUNS = 20;

function feeds(): Record<string, ort.Tensor> {
  return {
    sample: new ort.Tensor(
      'float32',
      Float32Array.from({ length: BATCH * 3 * 32 * 32 }, (_, i) => Math.sin(i)),
      [BATCH, 3, 32, 32],
    ),
    timestep: new ort.Tensor('float32', new Float32Array(BATCH).fill(500), [BATCH]),
    encoder_hidden_states: new ort.Tensor(
      'float32',
      Float32Array.from({ length: BATCH * 16 * 64 }, (_, i) => Math.cos(i)),
      [BATCH, 16, 64],
    ),
  };
}

async function measure(ep: string): Promise<{ ms: number; out: Float32Array } | { error: string }> {
  try {
    const s = await ort.InferenceSession.create(`${modelDir}/unet/model.onnx`, {
      executionProviders: [ep],
      enableCpuMemArena: false,
      enableMemPattern: false,
      graphOptimizationLevel: 'all',
    });
    const f = feeds();
    let out: Float32Array = new Float32Array();
    for (let i = 0; i < 3; i++) out = (await s.run(f)).out_sample.data as Float32Array;
    const ms: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      await s.run(f);
      ms.push(performance.now() - t);
    }
    ms.sort((a, b) => a - b);
    return { ms: ms[RUNS >> 1], out: out.slice() };
  } catch (err) {
    return { error: String((err as Error).message).split('\n')[0] };
  }
}

// A function, not top-level await: the device bundle is CommonJS.
async function main(): Promise<void> {
  const cpu = await measure('cpu');
  const webgpu = await measure('webgpu');
  let maxDiff: number | null = null;
  if ('out' in cpu && 'out' in webgpu) {
    maxDiff = 0;
    for (let i = 0; i < cpu.out.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs(cpu.out[i] - webgpu.out[i]));
  }
  let python: unknown;
  try {
    python = JSON.parse(
      execFileSync('python3', [
        `${modelDir}/../generate_ort.py`,
        modelDir,
        '--batch',
        String(BATCH),
        '--runs',
        String(RUNS),
      ]).toString(),
    );
  } catch (err) {
    python = { error: String((err as Error).message).split('\n')[0] };
  }
  const result = {
    unetBatch: BATCH,
    nodeCpuMs: 'ms' in cpu ? cpu.ms : cpu,
    nodeWebgpuMs: 'ms' in webgpu ? webgpu.ms : webgpu,
    webgpuMaxAbsDiffVsCpu: maxDiff,
    python,
  };
  console.log(JSON.stringify(result, null, 2));
  writeFileSync(outFile, JSON.stringify(result, null, 2));
}

void main();
