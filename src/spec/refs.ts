// Which spec fields reference other stages or models, per stage kind. The one table that
// semantic checks, the DAG and the compiler all read.
import type { StageKind } from './plan';

/** 'model' accepts a model name or a finetune/pretrain stage; a kind list accepts stages of those kinds. */
export type RefTarget = 'model' | StageKind[];

export interface RefField {
  /** Path inside the stage, e.g. ['unlabelled', 'images']. */
  path: string[];
  target: RefTarget;
  /** The field holds a list of references. */
  list?: boolean;
}

export const MODEL_STAGE_KINDS: StageKind[] = ['finetune', 'pretrain'];

export const REF_FIELDS: Record<StageKind, RefField[]> = {
  prompts: [],
  generate: [
    { path: ['model'], target: 'model' },
    { path: ['prompts'], target: ['prompts'] },
  ],
  label: [{ path: ['images'], target: ['generate'] }],
  reward: [{ path: ['labels'], target: ['label'] }],
  finetune: [
    { path: ['model'], target: 'model' },
    { path: ['labels'], target: ['label'] },
    { path: ['reward'], target: ['reward'] },
    { path: ['unlabelled', 'images'], target: ['generate'] },
  ],
  evaluate: [
    { path: ['models'], target: 'model', list: true },
    { path: ['reward'], target: ['reward'] },
    { path: ['prompts'], target: ['prompts'] },
  ],
  pretrain: [{ path: ['model'], target: 'model' }],
};

export interface RefUse {
  field: RefField;
  /** Full path inside the stage, with the list index for list fields. */
  path: (string | number)[];
  name: string;
}

/** Every reference a stage makes, with where it sits. */
export function stageRefs(kind: StageKind, stage: Record<string, unknown>): RefUse[] {
  const uses: RefUse[] = [];
  for (const field of REF_FIELDS[kind] ?? []) {
    let v: unknown = stage;
    for (const p of field.path) v = (v as Record<string, unknown> | undefined)?.[p];
    if (v === undefined) continue;
    if (field.list && Array.isArray(v))
      v.forEach((name, i) => uses.push({ field, path: [...field.path, i], name: String(name) }));
    else if (typeof v === 'string') uses.push({ field, path: field.path, name: v });
  }
  return uses;
}
