/**
 * An experiment's prompts, generate and label work redone outside Temporal, with the compiled
 * plan's own params: the prompts stage's draw, the generate stage's images, and simulated raters
 * through a label store, aggregated as the label stage does. For measurement scripts that vary
 * what happens after labelling (scripts/self-training-control.ts, scripts/reward-shortcut.ts).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { generatePrompts, parsePrompt, promptSplit } from '../../src/domains/shapes/index';
import type { GeneratedPrompt, Image, PromptCategory } from '../../src/domains/shapes/types';
import { simulateLabels } from '../../src/labels/sources';
import { LabelStore } from '../../src/labels/store';
import { generateImages, type ManifestEntry } from '../../src/model/generate';
import { schedulerFromSpec } from '../../src/model/schedulers/index';
import { compileFile } from '../../src/spec/compile';
import type { Plan } from '../../src/spec/plan';
import { aggregate } from '../../workflows/labeling';

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
  overrides: { imagesPerPrompt?: number; perCategory?: number } = {},
): Promise<PlanLabels> {
  mkdirSync(work, { recursive: true });
  const { plan, diagnostics } = await compileFile(specFile, { stateDir: work });
  if (!plan) throw new Error(diagnostics.map((d) => d.message).join('\n'));
  const params = (stage: string): any => Object.values(plan.instances).find((i) => i.stage === stage)!.params;
  const baseDir = plan.models.base.path;

  const pp = params('prompts');
  const prompts = generatePrompts({
    categories: pp.categories as PromptCategory[],
    perCategory: overrides.perCategory ?? pp.per_category,
    split: pp.split,
    seed: pp.seed,
  });

  const gp = params('generate');
  const genDir = join(work, 'generate');
  await generateImages(
    {
      modelDir: baseDir,
      prompts: prompts.map((p) => ({ id: p.id, text: p.text })),
      imagesPerPrompt: overrides.imagesPerPrompt ?? gp.images_per_prompt,
      seed: gp.seed,
      scheduler: schedulerFromSpec(gp.sampler.scheduler),
      steps: gp.sampler.steps,
      guidanceScale: gp.sampler.guidance_scale,
      batchSize: gp.sampler.batch_size,
    },
    { outDir: genDir },
  );
  const manifest = readFileSync(join(genDir, 'manifest.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as ManifestEntry);

  const lp = params('label');
  const store = new LabelStore(':memory:');
  const entries = new Map(manifest.map((m) => [basename(m.png, extname(m.png)), m]));
  const task = 'plan-labels';
  try {
    store.publishTask({
      id: task,
      experiment: plan.experiment,
      title: task,
      quorum: lp.quorum,
      images: [...entries].map(([id, m]) => ({ id, prompt: m.prompt, path: join(genDir, m.png) })),
    });
    const { raters, noise, bias } = lp.source;
    await simulateLabels({
      store,
      task,
      seed: lp.seed,
      raters: Array.from({ length: raters }, (_, i) => ({ name: `sim-${i + 1}`, noise, bias })),
    });
    const answers = new Map<string, { good: number; bad: number }>();
    for (const l of store.labels(task)) {
      const a = answers.get(l.image) ?? { good: 0, bad: 0 };
      if (l.value !== 'skip') a[l.value] += 1;
      answers.set(l.image, a);
    }
    const labelled = [...entries].flatMap(([id, m]) => {
      const { good = 0, bad = 0 } = answers.get(id) ?? {};
      const label = aggregate(good, bad, lp.aggregation);
      if (label === null || good + bad < lp.quorum) return [];
      const buf = readFileSync(join(genDir, m.tensor));
      const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      const parsed = parsePrompt(m.prompt);
      return [
        {
          image: { width: m.dims.at(-1)!, height: m.dims.at(-2)!, data },
          prompt: m.prompt,
          label,
          category: parsed?.category,
          split: parsed ? promptSplit(parsed) : undefined,
        },
      ];
    });
    return { plan, params, baseDir, prompts, labelled };
  } finally {
    store.close();
  }
}
