/**
 * The finetune stage: reward-weighted likelihood fine-tuning (Lee et al. 2023, eq. 3). Model
 * samples get w = their label or their reward (clamped to [0, 1]); unlabelled images scored by the
 * reward model join with w = 1 above a threshold (or w = reward); rendered pretraining samples
 * get w = β. Samples of weight 0 add nothing to the loss and are left out of the batches.
 */
import type { Image } from '../domains/shapes/types';
import { PROMPT_CATEGORIES } from '../domains/shapes/types';
import { RewardModel } from '../reward/score';
import { withSchemaDefaults } from '../spec/defaults';
import type { DenoiseSample } from './data';
import { trainDenoiser, type LoraParams, type OptimizerParams } from './denoise';
import { ImageFolderError, loadImageFolder } from './imagefolder';
import { renderedData } from './pretrain';
import { loadModelFolder } from '../model/loader';

/** The finetune stage's params, named as in the spec (finetune_stage). */
export interface FinetuneParams {
  weight?: 'label' | 'reward';
  unlabelled?: { threshold?: number; weighting?: 'threshold' | 'reward' };
  pretrain_data?: { source?: 'shapes' | 'folder'; path?: string; size?: number; misdescribe?: number };
  beta?: number;
  method?: 'lora' | 'full';
  lora?: LoraParams;
  steps?: number;
  learning_rate?: number;
  batch_size?: number;
  optimizer?: OptimizerParams;
  checkpoint_every?: number;
  ema_decay?: number;
  seed?: number;
}

export interface FinetuneInput {
  params: FinetuneParams;
  baseDir: string;
  outDir: string;
  labelled: readonly { image: Image; prompt: string; label: number; latents?: Float32Array }[];
  unlabelled?: readonly { image: Image; prompt: string; latents?: Float32Array }[];
  /** Where VAE encodings of pretraining images are cached across runs (default: no cache). */
  latentCacheDir?: string;
  /** A reward stage's output folder (needed for weight: reward or unlabelled images). */
  rewardDir?: string;
  onProgress?: (p: { step: number; steps: number; loss: number }) => void;
  signal?: AbortSignal;
}

/** `given` with the schema's defaults, in nested objects too (the defaults live only there). */
function resolveParams(given: FinetuneParams): FinetuneParams {
  // unlabelled has no default object; its fields' defaults apply whenever unlabelled images come.
  return withSchemaDefaults({ ...given, unlabelled: given.unlabelled ?? {} }, 'finetune_stage');
}

export async function finetune(input: FinetuneInput) {
  const p = resolveParams(input.params);
  const weighting = p.weight;
  const needsReward = weighting === 'reward' || (input.unlabelled?.length ?? 0) > 0;
  if (needsReward && !input.rewardDir) {
    throw new Error(
      "Fine-tuning with weight 'reward' or unlabelled images needs a reward stage; set reward.",
    );
  }
  const reward = needsReward ? await RewardModel.open(input.rewardDir!) : null;
  const clamp = (v: number) => Math.min(1, Math.max(0, v));
  let modelData: DenoiseSample[];
  try {
    const labelledWeights =
      reward && weighting === 'reward'
        ? Array.from(
            await reward.score(
              input.labelled.map((e) => e.image),
              input.labelled.map((e) => e.prompt),
            ),
            clamp,
          )
        : input.labelled.map((e) => e.label);
    modelData = input.labelled.map((e, i) => ({
      image: e.image,
      prompt: e.prompt,
      weight: labelledWeights[i],
      latents: e.latents,
    }));
    if (reward && input.unlabelled?.length) {
      const scores = await reward.score(
        input.unlabelled.map((e) => e.image),
        input.unlabelled.map((e) => e.prompt),
      );
      const threshold = p.unlabelled!.threshold!;
      input.unlabelled.forEach((e, i) => {
        const w =
          p.unlabelled!.weighting === 'threshold' ? (scores[i] >= threshold ? 1 : 0) : clamp(scores[i]);
        modelData.push({ image: e.image, prompt: e.prompt, weight: w, latents: e.latents });
      });
    }
  } finally {
    await reward?.close();
  }
  modelData = modelData.filter((s) => s.weight > 0);
  const beta = p.beta!;
  const seed = p.seed ?? 0;
  const pretrainData = beta > 0 ? (await pretrainingData(input, p)).map((s) => ({ ...s, weight: beta })) : [];
  if (modelData.length === 0 && pretrainData.length === 0) {
    throw new Error(
      'No labelled image has a positive weight and beta is 0: there is nothing to fine-tune on.',
    );
  }
  // UNets with free spatial dims train at the size the generated images have.
  const first = input.labelled[0]?.image ?? input.unlabelled?.[0]?.image;
  return trainDenoiser({
    image: first ? { height: first.height, width: first.width } : undefined,
    baseDir: input.baseDir,
    outDir: input.outDir,
    modelData,
    pretrainData,
    steps: p.steps!,
    learningRate: p.learning_rate!,
    batchSize: p.batch_size!,
    optimizer: p.optimizer,
    method: p.method,
    lora: p.lora,
    checkpointEvery: p.checkpoint_every,
    emaDecay: p.ema_decay,
    seed,
    onProgress: input.onProgress,
    signal: input.signal,
  });
}

/** D_pre: rendered shapes (source: shapes) or an imagefolder (source: folder), at the model's size. */
async function pretrainingData(input: FinetuneInput, p: FinetuneParams): Promise<DenoiseSample[]> {
  const seed = p.seed ?? 0;
  const d = p.pretrain_data!;
  if (d.source === 'shapes') {
    return renderedData([...PROMPT_CATEGORIES], d.size!, `finetune:${seed}`, d.misdescribe!);
  }
  if (!d.path) throw new ImageFolderError("pretrain_data source 'folder' needs a 'path' to an imagefolder.");
  const first = input.labelled[0]?.image;
  const model = loadModelFolder(
    input.baseDir,
    first ? { image: { height: first.height, width: first.width } } : {},
  );
  const samples = await loadImageFolder(d.path, model, { cacheDir: input.latentCacheDir, limit: d.size });
  return samples.map((s) => ({ ...s, weight: 1 }));
}
