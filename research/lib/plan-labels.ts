/**
 * An experiment's prompts, generate and label work redone outside Temporal, with the compiled
 * plan's own params: the prompts stage's draw, the generate stage's images, and the label stage's
 * simulated (or imported) labels and aggregation. For measurement scripts that vary
 * what happens after labelling (research/self-training-control.ts, research/reward-shortcut.ts).
 */
import { mkdirSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { generatePrompts } from '../../src/domains/shapes/index';
import type { GeneratedPrompt, Image, PromptCategory } from '../../src/domains/shapes/types';
import { generateImages } from '../../src/model/generate';
import { compileFile } from '../../src/spec/compile';
import { hashJson } from '../../src/spec/hash';
import type { Plan } from '../../src/spec/plan';
import { readManifest, readTensor } from '../../src/stages/examples';
import { labelRecords, machineLabels, type LabelParams } from '../../src/stages/label';

export interface PlanLabels {
  plan: Plan;
  /** The params of the plan's instance of a stage (the first, for a sweep). */
  params: (stage: string) => any;
  baseDir: string;
  prompts: GeneratedPrompt[];
  /** Images that reached the quorum, with the aggregated label, category and split. */
  labelled: { image: Image; prompt: string; label: number; category?: string; split?: string }[];
}

export async function planLabels(
  specFile: string,
  work: string,
  overrides: { imagesPerPrompt?: number; perCategory?: number; baseDir?: string } = {},
): Promise<PlanLabels> {
  mkdirSync(work, { recursive: true });
  const { plan, diagnostics } = await compileFile(specFile, { stateDir: work });
  if (!plan) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  const params = (stage: string): any => Object.values(plan.instances).find((i) => i.stage === stage)!.params;
  const baseDir = overrides.baseDir ?? plan.models.base.path;

  const pp = params('prompts');
  const prompts = generatePrompts({
    categories: pp.categories as PromptCategory[],
    perCategory: overrides.perCategory ?? pp.per_category,
    split: pp.split,
    seed: pp.seed,
  });

  const gp = params('generate');
  const request = {
    modelDir: baseDir,
    prompts: prompts.map((p) => ({ id: p.id, text: p.text })),
    imagesPerPrompt: overrides.imagesPerPrompt ?? gp.images_per_prompt,
    seed: gp.seed,
    scheduler: gp.sampler.scheduler,
    steps: gp.sampler.steps,
    guidanceScale: gp.sampler.guidance_scale,
    batchSize: gp.sampler.batch_size,
  };
  // One folder per model and request: another --model or image count in the same work folder
  // draws its own images instead of reading the first run's.
  const key = hashJson({ ...request, modelDir: resolve(baseDir) }).slice(0, 8);
  const genDir = join(work, `generate-${key}`);
  await generateImages(request, { outDir: genDir });
  const manifest = readManifest(genDir);

  // The label stage's own labelling and aggregation, on a task of these images.
  const lp = params('label') as LabelParams;
  const entries = new Map(manifest.map((m) => [basename(m.png, extname(m.png)), m]));
  const publish = {
    id: 'plan-labels',
    experiment: plan.experiment,
    title: 'plan-labels',
    quorum: lp.quorum,
    images: [...entries].map(([id, m]) => ({ id, prompt: m.prompt, path: join(genDir, m.png) })),
  };
  const records = labelRecords(
    await machineLabels(publish, lp),
    entries,
    new Map(prompts.map((x) => [x.id, x])),
    lp,
  );
  const labelled = records
    .filter((r) => r.quorum)
    .map((r) => ({
      image: readTensor(genDir, r.tensor, entries.get(r.image)!.dims),
      prompt: r.prompt,
      label: r.label,
      category: r.category ?? undefined,
      split: r.split ?? undefined,
    }));
  return { plan, params, baseDir, prompts, labelled };
}
