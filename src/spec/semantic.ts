// Checks the schema cannot express: references resolve to the right kind of stage, the stage
// graph is acyclic, files exist, options that need each other are present, sweep paths exist and
// their values satisfy the target's schema.
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ImageFolderError, readImageFolder } from '../finetune/imagefolder-metadata';
import { didYouMean, isError, type Diagnostic } from './diagnostics';
import type { StageKind } from './plan';
import { MODEL_STAGE_KINDS, REF_FIELDS, stageRefs, type RefUse } from './refs';
import { experimentSchema, show } from './schema';
import { locate, pathToString, type PathSegment, type SpecSource } from './source';
import { gridSize, MAX_TRIALS } from './sweep';
import { sweepTargetSchema, type SweepParameter } from './sweep-schema';
import type { Experiment } from './types.gen';

export function checkSemantics(src: SpecSource, spec: Experiment): Diagnostic[] {
  const out: Diagnostic[] = [];
  const at = (path: PathSegment[], message: string, hint?: string, key = false) =>
    out.push({ file: src.file, ...locate(src, path, { key }), path: pathToString(path), message, hint });
  const warn = (path: PathSegment[], message: string, hint?: string) =>
    out.push({
      file: src.file,
      ...locate(src, path),
      path: pathToString(path),
      message,
      hint,
      severity: 'warning',
    });
  const baseDir = dirname(resolve(src.file));
  const stages = spec.stages as Record<string, Record<string, any> & { kind: StageKind }>;
  const models = spec.models ?? {};
  const stageNames = Object.keys(stages);

  for (const name of Object.keys(models)) {
    if (name in stages)
      at(['models', name], `model name '${name}' is also a stage name`, 'rename one of them', true);
    const path = models[name].path;
    const abs = resolve(baseDir, path);
    // A missing folder is a warning here and an error when the spec is planned or submitted.
    checkPath(['models', name, 'path'], path, 'dir', 'model folder', true);
    if (existsSync(abs) && statSync(abs).isDirectory() && !existsSync(resolve(abs, 'model_index.json'))) {
      at(
        ['models', name, 'path'],
        `'${path}' is not a model folder: model_index.json is missing`,
        'point at a Stable Diffusion ONNX export folder',
      );
    }
  }

  // References and the edges of the stage graph.
  const edges = new Map<string, string[]>();
  for (const [name, stage] of Object.entries(stages)) {
    const deps: string[] = [];
    for (const use of stageRefs(stage.kind, stage)) {
      const dep = checkRef(name, use, ['stages', name, ...use.path]);
      if (dep) deps.push(dep);
    }
    edges.set(name, deps);
    checkStageOptions(name, stage);
  }
  const cycle = findCycle(edges);
  if (cycle) {
    at(
      ['stages', cycle[0]],
      `stage graph has a cycle: ${cycle.join(' -> ')}`,
      'a stage cannot depend on its own output',
      true,
    );
  }
  if (spec.rounds) checkRounds(spec.rounds);
  if (spec.sweep) checkSweep(spec);
  return out;

  /** Checks one reference; returns the stage it makes `name` depend on, if any. */
  function checkRef(name: string, use: RefUse, where: PathSegment[]): string | undefined {
    const target = stages[use.name];
    if (use.field.target === 'model') {
      if (use.name in models) return undefined;
      if (target && MODEL_STAGE_KINDS.includes(target.kind)) {
        return use.name;
      }
      if (target) {
        at(
          where,
          `'${use.name}' is a ${target.kind} stage, not a model`,
          'name a model from models: or a finetune/pretrain stage',
        );
      } else {
        const modelStages = stageNames.filter((s) => MODEL_STAGE_KINDS.includes(stages[s].kind));
        at(
          where,
          `unknown model '${use.name}'`,
          didYouMean(use.name, [...Object.keys(models), ...modelStages]) ?? 'define it under models:',
        );
      }
      return undefined;
    }
    const kinds = use.field.target;
    if (!target) {
      at(
        where,
        `unknown stage '${use.name}'`,
        didYouMean(
          use.name,
          stageNames.filter((s) => kinds.includes(stages[s].kind)),
        ) ?? didYouMean(use.name, stageNames),
      );
    } else if (use.name === name) {
      at(where, `stage '${name}' cannot take its own output`);
    } else if (!kinds.includes(target.kind)) {
      at(where, `'${use.name}' is a ${target.kind} stage; this field needs a ${kinds.join(' or ')} stage`);
    } else {
      return use.name;
    }
    return undefined;
  }

  /**
   * Swept values that name inputs are checked like the spec's own: references to models and
   * stages, and model folders (their absence a warning here, an error when planned).
   */
  function checkSweptInputs(dotted: string, listed: [unknown, PathSegment[]][]) {
    const parts = dotted.split('.');
    if (parts[0] === 'models' && parts.length === 3 && parts[2] === 'path') {
      for (const [v, path] of listed)
        if (typeof v === 'string') checkPath(path, v, 'dir', 'model folder', true);
      return;
    }
    const stage = parts[0] === 'stages' ? stages[parts[1]] : undefined;
    const field = stage && REF_FIELDS[stage.kind]?.find((f) => f.path.join('.') === parts.slice(2).join('.'));
    if (!field) return;
    // A trial's graph: this stage's other inputs stay, the swept field's become the value's.
    const others = stageRefs(stage.kind, stage)
      .filter((u) => u.field !== field && u.name in stages)
      .map((u) => u.name);
    for (const [v, path] of listed) {
      const names = field.list && Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : [];
      const deps = names.flatMap((n, i) => {
        const dep = checkRef(
          parts[1],
          { field, path: field.list ? [...field.path, i] : field.path, name: n },
          field.list ? [...path, i] : path,
        );
        return dep ? [dep] : [];
      });
      const cycle = findCycle(new Map([...edges, [parts[1], [...others, ...deps]]]));
      if (cycle)
        at(
          path,
          `with ${dotted} = ${show(v)} the stage graph has a cycle: ${cycle.join(' -> ')}`,
          'a stage cannot depend on its own output',
        );
    }
  }

  /** Big inputs (weights, datasets) may exist only on the GPU machines: `remote` makes absence a warning. */
  function checkPath(path: PathSegment[], rel: string, want: 'file' | 'dir', what: string, remote = false) {
    const abs = resolve(baseDir, rel);
    if (!existsSync(abs)) {
      if (remote) warn(path, `${what} '${rel}' does not exist here`, `resolved to ${abs}`);
      else at(path, `${what} '${rel}' does not exist`, `resolved to ${abs}`);
    } else if (want === 'dir' && !statSync(abs).isDirectory()) {
      at(path, `${what} '${rel}' is a file, not a folder`);
    } else if (want === 'file' && !statSync(abs).isFile()) {
      at(path, `${what} '${rel}' is a folder, not a file`);
    }
  }

  function checkStageOptions(name: string, s: Record<string, any>) {
    const p = (...rest: PathSegment[]) => ['stages', name, ...rest];
    if (s.kind === 'prompts') {
      if (s.source === 'file' && !s.file)
        at(p('source'), "source 'file' needs a 'file' field", 'add file: path/to/prompts.txt');
      if (s.file) checkPath(p('file'), s.file, 'file', 'prompt file');
    }
    if (s.kind === 'label' && s.source?.type === 'import')
      checkPath(p('source', 'path'), s.source.path, 'file', 'label file');
    if (s.kind === 'label' && s.source?.type === 'simulated' && s.quorum > s.source.raters) {
      at(
        p('quorum'),
        `quorum ${s.quorum} is more than the ${s.source.raters} simulated rater(s)`,
        'raise source.raters or lower quorum',
      );
    }
    if (s.kind === 'reward' && s.backbone?.type === 'clip') {
      if (!s.backbone.path) at(p('backbone'), "backbone type 'clip' needs a 'path' to a CLIP ONNX export");
      else checkPath(p('backbone', 'path'), s.backbone.path, 'dir', 'CLIP folder', true);
    }
    if (s.kind === 'reward' && s.backbone?.init)
      checkPath(p('backbone', 'init'), s.backbone.init, 'dir', 'reward model folder', true);
    if (s.kind === 'reward' && s.backbone?.freeze && !s.backbone.init) {
      at(
        p('backbone', 'freeze'),
        "backbone.freeze keeps the encoders at their 'init' weights, but no 'init' is given",
        'add init: the folder of a pretrained reward model, such as models/shapes-reward',
      );
    }
    if (s.kind === 'reward' && s.reference_images !== undefined && s.head !== 'centered') {
      at(
        p('reference_images'),
        `reference_images sizes the 'centered' head's reference set, but head is '${s.head ?? 'mlp'}'`,
        'add head: centered, or drop reference_images',
      );
    }
    if (s.kind === 'finetune') {
      if (s.weight === 'reward' && !s.reward)
        at(p('weight'), "weight 'reward' needs a 'reward' stage", 'add reward: <reward stage>');
      if (s.unlabelled && !s.reward)
        at(
          p('unlabelled'),
          "unlabelled images are scored by the reward model, so a 'reward' stage is needed",
          'add reward: <reward stage>',
        );
      if (s.pretrain_data?.source === 'folder') {
        if (s.pretrain_data.misdescribe)
          at(
            p('pretrain_data', 'misdescribe'),
            "misdescribe recaptions rendered shapes images, but source is 'folder', whose captions come from metadata.jsonl",
            'drop misdescribe, or use source: shapes',
          );
        if (!s.pretrain_data.path) at(p('pretrain_data'), "pretrain_data source 'folder' needs a 'path'");
        else {
          checkPath(p('pretrain_data', 'path'), s.pretrain_data.path, 'dir', 'pretraining data folder', true);
          const abs = resolve(baseDir, s.pretrain_data.path);
          if (existsSync(abs) && statSync(abs).isDirectory()) {
            try {
              readImageFolder(abs);
            } catch (err) {
              if (!(err instanceof ImageFolderError)) throw err;
              // Paths as the spec writes them, not as this machine resolves them.
              const rel = s.pretrain_data.path.replace(/\/+$/, '');
              at(p('pretrain_data', 'path'), err.message.split(abs).join(rel).replace(/\.$/, ''));
            }
          }
        }
      }
    }
  }

  /** A cycle of the stage graph (first stage repeated at the end), if it has one. */
  function findCycle(graph: Map<string, string[]>): string[] | undefined {
    const state = new Map<string, 'visiting' | 'done'>();
    const stack: string[] = [];
    const visit = (n: string): string[] | undefined => {
      if (state.get(n) === 'done') return undefined;
      if (state.get(n) === 'visiting') return [...stack.slice(stack.indexOf(n)), n];
      state.set(n, 'visiting');
      stack.push(n);
      for (const d of graph.get(n) ?? []) {
        const found = visit(d);
        if (found) return found;
      }
      stack.pop();
      state.set(n, 'done');
      return undefined;
    };
    for (const n of graph.keys()) {
      const found = visit(n);
      if (found) return found;
    }
    return undefined;
  }

  function checkRounds(r: NonNullable<Experiment['rounds']>) {
    r.stages.forEach((s, i) => {
      if (!(s in stages)) at(['rounds', 'stages', i], `unknown stage '${s}'`, didYouMean(s, stageNames));
    });
    const from = stages[r.model_from];
    if (!from)
      at(['rounds', 'model_from'], `unknown stage '${r.model_from}'`, didYouMean(r.model_from, stageNames));
    else if (from.kind !== 'finetune')
      at(
        ['rounds', 'model_from'],
        `'${r.model_from}' is a ${from.kind} stage; model_from needs a finetune stage`,
      );
    else if (!r.stages.includes(r.model_from))
      at(['rounds', 'model_from'], `'${r.model_from}' must be one of rounds.stages`);
  }

  /** The schema check of values for the swept path `dotted`, or undefined (reported) if it has none. */
  function sweptValueCheck(exp: Experiment, dotted: string, where: PathSegment[]) {
    const target = sweepTargetSchema(exp, dotted);
    if ('error' in target) {
      at(where, target.error, target.hint, true);
      return undefined;
    }
    const validate = experimentSchema().ajv.compile(target.schema);
    return (v: unknown, path: PathSegment[]) => {
      if (!validate(v))
        at(
          path,
          `value ${show(v)} is not valid for ${dotted}: ${validate.errors?.[0]?.message ?? 'rejected by the schema'}`,
        );
    };
  }

  function checkSweep(exp: Experiment) {
    const sweep = exp.sweep!;
    if (sweep.trials && sweep.parameters)
      at(['sweep', 'trials'], 'a sweep has parameters or a list of trials, not both', undefined, true);
    else if (!sweep.trials && !sweep.parameters)
      at(
        ['sweep'],
        'a sweep needs parameters or trials',
        'e.g. parameters: { stages.reward.lambda: [0, 1] }',
      );
    if (sweep.trials) {
      if (sweep.method === 'random' || sweep.max_trials !== undefined)
        at(
          ['sweep', 'trials'],
          'a list of trials runs as written: method random and max_trials do not apply',
          undefined,
          true,
        );
      sweep.trials.forEach((trial, i) => {
        for (const [dotted, v] of Object.entries(trial)) {
          const where: PathSegment[] = ['sweep', 'trials', i, dotted];
          const check = sweptValueCheck(exp, dotted, where);
          if (!check) continue;
          check(v, where);
          checkSweptInputs(dotted, [[v, where]]);
        }
      });
    }
    for (const [dotted, raw] of Object.entries(sweep.parameters ?? {})) {
      const where: PathSegment[] = ['sweep', 'parameters', dotted];
      const check = sweptValueCheck(exp, dotted, where);
      if (!check) continue;
      const param = raw as SweepParameter;
      checkSweptInputs(
        dotted,
        Array.isArray(param)
          ? param.map((v, i) => [v, [...where, i]])
          : 'values' in param && param.values
            ? param.values.map((v, i) => [v, [...where, 'values', i]])
            : [],
      );
      if (Array.isArray(param)) param.forEach((v, i) => check(v, [...where, i]));
      else if ('values' in param && !('distribution' in param))
        param.values.forEach((v, i) => check(v, [...where, 'values', i]));
      else if ('distribution' in param) {
        const d = param;
        if (d.distribution === 'choice') {
          if (!d.values) at(where, "distribution 'choice' needs 'values'");
          else d.values.forEach((v, i) => check(v, [...where, 'values', i]));
          continue;
        }
        if (d.min === undefined || d.max === undefined) {
          at(where, `distribution '${d.distribution}' needs 'min' and 'max'`);
          continue;
        }
        if (!(d.min < d.max)) at([...where, 'min'], `min (${d.min}) must be less than max (${d.max})`);
        if (d.distribution === 'log_uniform' && d.min <= 0)
          at([...where, 'min'], `log_uniform needs min > 0 (got ${d.min})`);
        if (d.distribution === 'int' && (!Number.isInteger(d.min) || !Number.isInteger(d.max)))
          at(where, "distribution 'int' needs integer min and max");
        check(d.min, [...where, 'min']);
        check(d.max, [...where, 'max']);
        if (sweep.method === 'grid' && d.distribution !== 'int') {
          at(
            where,
            `a grid sweep cannot enumerate a continuous '${d.distribution}' distribution`,
            'use a list of values, or method: random',
          );
        }
      }
    }
    if (
      sweep.parameters &&
      sweep.method !== 'random' &&
      sweep.max_trials === undefined &&
      !out.some(isError)
    ) {
      const size = gridSize(sweep);
      if (size > MAX_TRIALS)
        at(
          ['sweep', 'parameters'],
          `the grid has ${size.toLocaleString('en-US')} trials, more than alignrun plans (${MAX_TRIALS.toLocaleString('en-US')})`,
          'set max_trials to run the first N, or use method: random',
          true,
        );
    }
    if (sweep.method === 'random' && sweep.max_trials === undefined)
      at(['sweep'], 'a random sweep needs max_trials', 'add max_trials: 16', true);
    for (const field of ['objective', 'early_stop'] as const) {
      const metric = sweep[field]?.metric;
      if (!metric) continue;
      const stage = metric.split('.')[0];
      if (!(stage in stages))
        at(
          ['sweep', field, 'metric'],
          `metric '${metric}' names unknown stage '${stage}'`,
          didYouMean(stage, stageNames),
        );
    }
  }
}
