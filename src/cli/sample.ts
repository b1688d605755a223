// `alignrun sample`: text to image with a model folder outside any experiment, e.g. to reproduce a
// diffusers run from its initial latents and compare the outputs array by array.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { imageToPng } from '../model/images';
import { ModelFolderError } from '../model/loader';
import { NpyError, readNpy, writeNpy } from '../model/npy';
import { DiffusionPipeline } from '../model/pipeline';
import { SCHEDULER_NAMES, type SchedulerName } from '../model/schedulers/index';
import { ProviderError, type ExecutionProvider } from '../model/session';

const USAGE = `usage: alignrun sample MODEL_DIR --prompt TEXT [--prompt TEXT ...] --out DIR [options]

Generates one image per prompt with an SD-layout ONNX model folder and writes DIR/<i>.png,
DIR/images.npy (N x 3 x H x W in [0, 1], as diffusers' output_type="pt") and DIR/latents.npy (the
final latents before decoding, as output_type="latent").

  --latents FILE.npy    initial noise N x C x h x w (a diffusers run's \`latents\`; scaled by the
                        scheduler's init_noise_sigma as diffusers does); default: from --seed
  --seed N              seed of image i's noise is N + i (default 0)
  --negative-prompt T   text of the unconditional branch (default "")
  --scheduler NAME      ddim, euler or dpmpp_2m (default ddim)
  --steps N             denoising steps (default 20)
  --guidance G          classifier-free guidance scale; 1 or less runs no unconditional pass (default 5)
  --height H --width W  image size for UNets with free spatial dims (default: the model's)
  --provider P          cpu, webgpu or cuda (default cpu)`;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        prompt: { type: 'string', multiple: true },
        out: { type: 'string' },
        latents: { type: 'string' },
        seed: { type: 'string', default: '0' },
        'negative-prompt': { type: 'string', default: '' },
        scheduler: { type: 'string', default: 'ddim' },
        steps: { type: 'string', default: '20' },
        guidance: { type: 'string', default: '5' },
        height: { type: 'string' },
        width: { type: 'string' },
        provider: { type: 'string', default: 'cpu' },
        help: { type: 'boolean' },
      },
    });
  } catch (e) {
    console.error(`alignrun sample: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const prompts = v.prompt ?? [];
  if (positionals.length !== 1 || prompts.length === 0 || !v.out) {
    console.error(USAGE);
    return 2;
  }
  const fail = (message: string) => {
    console.error(`alignrun sample: ${message}`);
    return 1;
  };
  const scheduler = v.scheduler as SchedulerName;
  if (!SCHEDULER_NAMES.includes(scheduler)) {
    return fail(`unknown scheduler '${v.scheduler}'; choose ${SCHEDULER_NAMES.join(', ')}.`);
  }
  const num = (name: string, text: string | undefined, int: boolean) => {
    const x = Number(text);
    if (text === undefined || !Number.isFinite(x) || (int && !Number.isInteger(x)) || x < 0)
      throw new RangeError(
        `--${name} must be a ${int ? 'non-negative integer' : 'non-negative number'}, got '${text}'.`,
      );
    return x;
  };
  try {
    const steps = num('steps', v.steps, true);
    const guidance = num('guidance', v.guidance, false);
    const seed = num('seed', v.seed, true);
    const image =
      v.height !== undefined || v.width !== undefined
        ? { height: num('height', v.height, true), width: num('width', v.width, true) }
        : undefined;
    const initial = v.latents ? readNpy(v.latents) : undefined;
    if (initial && initial.shape[0] !== prompts.length) {
      return fail(
        `${v.latents} holds ${initial.shape[0]} latents (shape ${initial.shape.join('x')}) for ${prompts.length} prompt(s); give one per prompt.`,
      );
    }
    const pipe = await DiffusionPipeline.open(positionals[0], {
      image,
      provider: v.provider as ExecutionProvider,
    });
    try {
      const { channels, height, width } = pipe.model.sample;
      if (initial && initial.shape.slice(1).join('x') !== `${channels}x${height}x${width}`) {
        return fail(
          `${v.latents} holds ${initial.shape.slice(1).join('x')} latents; ${positionals[0]} samples ${channels}x${height}x${width} (pass --height/--width for another size).`,
        );
      }
      const out = await pipe.generate({
        prompts,
        seeds: prompts.map((_, i) => seed + i),
        scheduler,
        steps,
        guidanceScale: guidance,
        negativePrompt: v['negative-prompt'],
        initialLatents: initial?.data,
      });
      mkdirSync(v.out, { recursive: true });
      const { height: H, width: W } = pipe.model.image;
      const images = new Float32Array(out.length * 3 * H * W);
      const latents = new Float32Array(out.length * channels * height * width);
      for (const [i, im] of out.entries()) {
        images.set(
          im.data.map((x) => (x + 1) / 2),
          i * 3 * H * W,
        );
        latents.set(im.latents, i * im.latents.length);
        writeFileSync(join(v.out, `${i}.png`), await imageToPng(im));
      }
      writeNpy(join(v.out, 'images.npy'), images, [out.length, 3, H, W]);
      writeNpy(join(v.out, 'latents.npy'), latents, [out.length, channels, height, width]);
      console.log(
        `wrote ${out.length} image(s) to ${v.out} (${W}x${H}, ${steps} ${scheduler} steps, guidance ${guidance})`,
      );
    } finally {
      await pipe.close();
    }
    return 0;
  } catch (e) {
    if (
      e instanceof ModelFolderError ||
      e instanceof NpyError ||
      e instanceof ProviderError ||
      e instanceof RangeError
    )
      return fail((e as Error).message);
    throw e;
  }
}
