// Stage `prompts`: the prompt set, from the shapes domain by category and split, or from a file
// (one prompt per line, or JSONL with a "text" field). Output: prompts.json.
import { readFileSync } from 'node:fs';
import { generatePrompts, parsePrompt, promptSplit } from '../domains/shapes';
import type { StageImplementation } from '../runtime/stage';
import type { PromptsStage } from '../spec/types.gen';
import { putJson, type PlannedParams } from './io';

export interface PromptRecord {
  id: string;
  text: string;
  /** color | count | background | combination for shapes prompts; 'free' for file prompts. */
  category: string;
  split: 'seen' | 'unseen';
}

export const run: StageImplementation = async (input, ctx) => {
  const p = input.instance.params as PlannedParams<
    PromptsStage,
    'source' | 'categories' | 'per_category' | 'split'
  >;
  let prompts: PromptRecord[];
  switch (p.source) {
    case 'shapes':
      prompts = generatePrompts({
        categories: p.categories,
        perCategory: p.per_category,
        split: p.split,
        seed: p.seed,
      }).map((g) => ({ id: g.id, text: g.text, category: g.category, split: g.split }));
      break;
    case 'file':
      prompts = readPromptFile(p.file!);
      break;
  }
  if (prompts.length === 0)
    throw new Error('the prompts stage produced no prompts; check its categories, split and file');
  const metrics: Record<string, number> = { prompts: prompts.length };
  for (const r of prompts) metrics[`prompts_${r.category}`] = (metrics[`prompts_${r.category}`] ?? 0) + 1;
  return { artifacts: { prompts: await putJson(ctx, { prompts }) }, metrics };
};

function readPromptFile(file: string): PromptRecord[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: PromptRecord[] = [];
  lines.forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith('#')) return;
    const text = t.startsWith('{') ? String((JSON.parse(t) as { text?: unknown }).text ?? '') : t;
    if (!text) throw new Error(`${file}:${i + 1}: a JSONL prompt needs a "text" field`);
    const shape = parsePrompt(text);
    out.push({
      id: `p${String(out.length).padStart(4, '0')}`,
      text,
      category: shape?.category ?? 'free',
      split: shape ? promptSplit(shape) : 'seen',
    });
  });
  return out;
}
