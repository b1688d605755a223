/* Generated from schemas/experiment.schema.json by `npm run gen:types`; do not edit. */

/**
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "stage".
 */
export type Stage = {
  kind: 'prompts' | 'generate' | 'label' | 'reward' | 'finetune' | 'evaluate' | 'pretrain';
} & Stage1;
export type Stage1 =
  PromptsStage | GenerateStage | LabelStage | RewardStage | FinetuneStage | EvaluateStage | PretrainStage;
/**
 * A model name from models:, or the name of a finetune or pretrain stage.
 *
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "model_ref".
 */
export type ModelRef = string;
/**
 * The name of another stage.
 *
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "stage_ref".
 */
export type StageRef = string;
/**
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "label_source".
 */
export type LabelSource = {
  /**
   * Where labels come from.
   */
  type: 'simulated' | 'human' | 'import';
} & LabelSource1;
export type LabelSource1 = SimulatedLabelSource | HumanLabelSource | ImportLabelSource;
/**
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "seed".
 */
export type Seed = number;
/**
 * Lower-case letters, digits and underscores, starting with a letter.
 *
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "identifier".
 */
export type Identifier = string;
/**
 * A duration such as '500ms', '30s', '10m', '2h', '1d'.
 *
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "duration".
 */
export type Duration = string;

/**
 * An alignrun experiment: models, a DAG of stages (prompts, generate, label, reward, finetune, evaluate, pretrain), tracking, and an optional hyperparameter sweep.
 */
export interface Experiment {
  /**
   * Spec format version; always 'alignrun/v1'.
   */
  apiVersion: 'alignrun/v1';
  metadata: Metadata;
  /**
   * Model folders in the Hugging Face Stable Diffusion ONNX layout, by name.
   */
  models?: {
    [k: string]: Model;
  };
  /**
   * The stages of the experiment, keyed by name. References between stages use these names.
   */
  stages: {
    [k: string]: Stage;
  };
  rounds?: Rounds;
  tracking?: Tracking;
  sweep?: Sweep;
}
/**
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "metadata".
 */
export interface Metadata {
  /**
   * Experiment name; also the MLflow experiment unless tracking.experiment says otherwise.
   */
  name: string;
  description?: string;
  /**
   * Base seed; each stage derives its own.
   */
  seed?: number;
  tags?: {
    [k: string]: string;
  };
}
/**
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "model".
 */
export interface Model {
  /**
   * Folder with model_index.json, text_encoder/, unet/, tokenizer/, scheduler/ (relative to the spec file).
   */
  path: string;
  /**
   * Execution providers in order of preference.
   *
   * @minItems 1
   */
  providers?: ['cpu' | 'webgpu' | 'cuda', ...('cpu' | 'webgpu' | 'cuda')[]];
  /**
   * Fall back to cpu when the preferred provider cannot start.
   */
  allow_cpu_fallback?: boolean;
}
/**
 * Produces the prompt set: from the shapes domain by category, or from a file.
 */
export interface PromptsStage extends StageCommon {
  kind: 'prompts';
  source?: 'shapes' | 'file';
  /**
   * Text file, one prompt per line, or JSONL with a 'text' field (source: file).
   */
  file?: string;
  /**
   * @minItems 1
   */
  categories?: [
    'color' | 'count' | 'background' | 'combination',
    ...('color' | 'count' | 'background' | 'combination')[]
  ];
  per_category?: number;
  split?: 'seen' | 'unseen' | 'all';
}
/**
 * Generates images for each prompt with a diffusion model.
 */
export interface GenerateStage extends StageCommon {
  kind: 'generate';
  model: ModelRef;
  prompts: StageRef;
  images_per_prompt?: number;
  sampler?: Sampler;
}
export interface Sampler {
  scheduler?: 'ddim' | 'euler' | 'dpmpp_2m';
  steps?: number;
  guidance_scale?: number;
  batch_size?: number;
}
/**
 * Collects binary feedback (good / bad) on generated images; waits until quorum or the deadline.
 */
export interface LabelStage extends StageCommon {
  kind: 'label';
  images: StageRef;
  source: LabelSource;
  /**
   * Labels needed per image.
   */
  quorum?: number;
  aggregation?: 'majority' | 'mean';
}
export interface SimulatedLabelSource {
  type: 'simulated';
  raters?: number;
  /**
   * Probability that a rater flips the judge's verdict.
   */
  noise?: number;
  /**
   * Per-rater tilt toward 'good' (positive) or 'bad' (negative).
   */
  bias?: number;
}
export interface HumanLabelSource {
  type: 'human';
  /**
   * A duration such as '500ms', '30s', '10m', '2h', '1d'.
   */
  deadline?: string;
  /**
   * At the deadline, proceed when at least this share of images reached quorum.
   */
  min_fraction?: number;
  on_deadline?: 'proceed' | 'fail' | 'extend';
  /**
   * A duration such as '500ms', '30s', '10m', '2h', '1d'.
   */
  extend_by?: string;
  reminder_webhook?: string;
  /**
   * A duration such as '500ms', '30s', '10m', '2h', '1d'.
   */
  reminder_every?: string;
}
export interface ImportLabelSource {
  type: 'import';
  path: string;
  format?: 'jsonl' | 'csv';
}
/**
 * Trains r(x, z) on the labels with the auxiliary prompt-classification loss.
 */
export interface RewardStage extends StageCommon {
  kind: 'reward';
  labels: StageRef;
  backbone?: {
    type?: 'tiny' | 'clip';
    /**
     * CLIP ONNX export folder (type: clip).
     */
    path?: string;
    /**
     * A reward model folder (reward.onnx with the same network) whose weights start the training, e.g. models/shapes-reward, pretrained on rendered image-prompt pairs (type: tiny).
     */
    init?: string;
    /**
     * Train the head only and keep the image and text encoders at their 'init' weights, as the paper keeps CLIP frozen (type: tiny; needs init).
     */
    freeze?: boolean;
  };
  /**
   * Weight of the auxiliary prompt-classification loss.
   */
  lambda?: number;
  /**
   * K: perturbed prompts per example in the auxiliary loss.
   */
  perturbations?: number;
  /**
   * T in softmax(r(x, z_i) / T).
   */
  temperature?: number;
  /**
   * Which labelled pairs the auxiliary loss uses.
   */
  aux_on?: 'positive' | 'all';
  /**
   * Where the auxiliary loss's perturbed prompts come from: 'vocabulary' swaps a colour, count, background or shape word for any other of the vocabulary; 'labelled' keeps only the swaps that are prompts of training labels, so every candidate is some image's own prompt and the loss cannot teach the model to score a prompt low from its text alone (a prompt with no labelled neighbour gets no auxiliary term).
   */
  perturb_from?: 'vocabulary' | 'labelled';
  learning_rate?: number;
  epochs?: number;
  batch_size?: number;
  validation_split?: number;
  /**
   * Labelled pairs whose prompt is in this split are never trained on; the reward model's accuracy and AUC on them is reported as test_* metrics (e.g. label both splits and hold out unseen prompts).
   */
  test_split?: 'seen' | 'unseen';
  hidden?: number;
  /**
   * The reward head: 'mlp' scores r = s(x, z), the MLP over image and text features; 'centered' scores r = s(x, z) - mean over reference images x' of s(x', z) + c0, so no function of the prompt alone reaches the score (the reference images are a seeded draw of the training labels' images, stored with the model).
   */
  head?: 'mlp' | 'centered';
  /**
   * How many labelled training images the 'centered' head centres over (32 when absent; fewer when there are fewer training labels). Only with head: centered, so it has no schema default.
   */
  reference_images?: number;
}
/**
 * Reward-weighted likelihood fine-tuning: E[w * ||eps - eps_theta||^2] + beta * E_pre[||eps - eps_theta||^2].
 */
export interface FinetuneStage extends StageCommon {
  kind: 'finetune';
  model: ModelRef;
  labels: StageRef;
  /**
   * The name of another stage.
   */
  reward?: string;
  /**
   * w in the loss: the binary label or the reward model's score.
   */
  weight?: 'label' | 'reward';
  unlabelled?: {
    images: StageRef;
    /**
     * Keep images whose reward is at least this.
     */
    threshold?: number;
    weighting?: 'threshold' | 'reward';
  };
  pretrain_data?: {
    source?: 'shapes' | 'folder';
    /**
     * A Hugging Face imagefolder (source: folder): images beside a metadata.jsonl of {file_name, text} lines, relative to the spec file. Resized on the shorter side and centre-cropped to the model; VAE-encoded once for latent models.
     */
    path?: string;
    /**
     * Pretraining samples: rendered images (source: shapes), or the first N images of metadata.jsonl (source: folder).
     */
    size?: number;
    /**
     * Share of rendered images (source: shapes) captioned with one wrong count, colour or background word, as the base model's pretraining data was.
     */
    misdescribe?: number;
  };
  /**
   * Weight of the pretraining loss.
   */
  beta?: number;
  method?: 'lora' | 'full';
  lora?: Lora;
  steps?: number;
  learning_rate?: number;
  batch_size?: number;
  optimizer?: Optimizer;
  checkpoint_every?: number;
  /**
   * Keep an exponential moving average of the weights while fine-tuning with this decay and export the average. Omit for none.
   */
  ema_decay?: number;
}
export interface Lora {
  rank?: number;
  alpha?: number;
  /**
   * Modules that get adapters, as diffusers/peft name them: a name matches modules whose path ends with it (to_q, to_out.0), a glob matches whole module paths (down_blocks.*.attentions.*); a pattern naming no module is matched against weight (initializer) names.
   *
   * @minItems 1
   */
  targets?: [string, ...string[]];
}
export interface Optimizer {
  type?: 'adamw' | 'sgd';
  weight_decay?: number;
  grad_clip?: number;
  schedule?: 'constant' | 'cosine';
  warmup_steps?: number;
}
/**
 * Judges alignment per category, mean reward and fidelity for each model on seen and unseen prompts over fixed seeds.
 */
export interface EvaluateStage extends StageCommon {
  kind: 'evaluate';
  /**
   * @minItems 1
   */
  models: [ModelRef, ...ModelRef[]];
  reward?: StageRef;
  /**
   * The name of another stage.
   */
  prompts?: string;
  /**
   * @minItems 1
   */
  splits?: ['seen' | 'unseen', ...('seen' | 'unseen')[]];
  /**
   * @minItems 1
   */
  categories?: [
    'color' | 'count' | 'background' | 'combination',
    ...('color' | 'count' | 'background' | 'combination')[]
  ];
  per_category?: number;
  /**
   * @minItems 1
   */
  seeds?: [Seed, ...Seed[]];
  sampler?: Sampler1;
}
export interface Sampler1 {
  scheduler?: 'ddim' | 'euler' | 'dpmpp_2m';
  steps?: number;
  guidance_scale?: number;
  batch_size?: number;
}
/**
 * Trains a base model on rendered shapes with the denoising loss (builds the tiny model).
 */
export interface PretrainStage extends StageCommon {
  kind: 'pretrain';
  /**
   * A model name from models:, or the name of a finetune or pretrain stage.
   */
  model: string;
  /**
   * Scheduler settings the UNet is trained for; written into the new model's scheduler_config.json.
   */
  scheduler?: {
    /**
     * What the UNet predicts: the noise, or v (steadier at high noise for tiny models).
     */
    prediction_type?: 'epsilon' | 'v_prediction';
    beta_schedule?: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
    num_train_timesteps?: number;
  };
  data?: {
    source?: 'shapes';
    /**
     * @minItems 1
     */
    categories?: [
      'color' | 'count' | 'background' | 'combination',
      ...('color' | 'count' | 'background' | 'combination')[]
    ];
    size?: number;
    /**
     * Share of images captioned loosely, as web captions are: the prompt of the same shape with one wrong count, colour or background word.
     */
    misdescribe?: number;
  };
  steps?: number;
  learning_rate?: number;
  batch_size?: number;
  optimizer?: Optimizer1;
  checkpoint_every?: number;
  /**
   * Keep an exponential moving average of the UNet weights with this decay and export the average (sharper samples). Omit for none.
   */
  ema_decay?: number;
}
export interface Optimizer1 {
  type?: 'adamw' | 'sgd';
  weight_decay?: number;
  grad_clip?: number;
  schedule?: 'constant' | 'cosine';
  warmup_steps?: number;
}
/**
 * Repeat a chain of stages K times, each round starting from the model the previous round tuned.
 *
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "rounds".
 */
export interface Rounds {
  count: number;
  /**
   * The stages repeated each round (e.g. generate, label, reward, finetune).
   *
   * @minItems 1
   */
  stages: [StageRef, ...StageRef[]];
  /**
   * The name of another stage.
   */
  model_from: string;
}
/**
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "tracking".
 */
export interface Tracking {
  /**
   * MLflow experiment name (default: metadata.name).
   */
  experiment?: string;
  /**
   * Tracking server; default MLFLOW_TRACKING_URI or the local server.
   */
  uri?: string;
}
/**
 * Trials from parameters (a grid or random draws) or an explicit list of trials.
 *
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "sweep".
 */
export interface Sweep {
  method?: 'grid' | 'random';
  /**
   * An explicit list of trials instead of parameters: each maps dotted paths into the spec to its values, e.g. [{stages.reward.lambda: 0, stages.finetune.beta: 1}, {stages.reward.lambda: 1, stages.finetune.beta: 0}].
   *
   * @minItems 1
   * @maxItems 10000
   */
  trials?: [
    {
      [k: string]: unknown;
    },
    ...{
      [k: string]: unknown;
    }[]
  ];
  /**
   * Dotted paths into the spec (e.g. stages.reward.lambda) mapped to a list of values, {values: [...]}, or a distribution.
   */
  parameters?: {
    [k: string]: [unknown, ...unknown[]] | SweepValues | Distribution;
  };
  /**
   * Trials to draw (random) or a cap on the grid.
   */
  max_trials?: number;
  max_parallel?: number;
  seed?: number;
  objective?: {
    /**
     * stage.metric, e.g. evaluate.alignment_seen.
     */
    metric: string;
    goal?: 'maximize' | 'minimize';
  };
  early_stop?: {
    /**
     * median: from after_step on, a running trial whose metric at a step is worse than the median of the other trials' values at that step is stopped, once at least min_trials trials have reported there.
     */
    method: 'median';
    metric: string;
    after_step?: number;
    min_trials?: number;
  };
}
/**
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "sweep_values".
 */
export interface SweepValues {
  /**
   * @minItems 1
   */
  values: [unknown, ...unknown[]];
}
/**
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "distribution".
 */
export interface Distribution {
  distribution: 'uniform' | 'log_uniform' | 'int' | 'choice';
  min?: number;
  max?: number;
  /**
   * @minItems 1
   */
  values?: [unknown, ...unknown[]];
}
/**
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "retries".
 */
export interface Retries {
  maximum_attempts?: number;
  /**
   * A duration such as '500ms', '30s', '10m', '2h', '1d'.
   */
  initial_interval?: string;
  backoff_coefficient?: number;
  /**
   * A duration such as '500ms', '30s', '10m', '2h', '1d'.
   */
  maximum_interval?: string;
}
/**
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "stage_common".
 */
export interface StageCommon {
  description?: string;
  /**
   * Task queue the stage runs on.
   */
  queue?: 'cpu' | 'gpu';
  retries?: Retries;
  /**
   * Limit for one attempt of the stage.
   */
  timeout?: string;
  /**
   * A running attempt that sends no heartbeat for this long counts as lost (its worker died) and is retried. Workers heartbeat every second while the stage's process is responsive; raise it only for a stage that blocks its worker's event loop longer.
   */
  heartbeat_timeout?: string;
  /**
   * Overrides the seed derived from metadata.seed.
   */
  seed?: number;
}
/**
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "sampler".
 */
export interface Sampler2 {
  scheduler?: 'ddim' | 'euler' | 'dpmpp_2m';
  steps?: number;
  guidance_scale?: number;
  batch_size?: number;
}
/**
 * Produces the prompt set: from the shapes domain by category, or from a file.
 *
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "prompts_stage".
 */
export interface PromptsStage1 {
  kind: 'prompts';
  source?: 'shapes' | 'file';
  /**
   * Text file, one prompt per line, or JSONL with a 'text' field (source: file).
   */
  file?: string;
  /**
   * @minItems 1
   */
  categories?: [
    'color' | 'count' | 'background' | 'combination',
    ...('color' | 'count' | 'background' | 'combination')[]
  ];
  per_category?: number;
  split?: 'seen' | 'unseen' | 'all';
}
/**
 * Generates images for each prompt with a diffusion model.
 *
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "generate_stage".
 */
export interface GenerateStage1 {
  kind: 'generate';
  model: ModelRef;
  prompts: StageRef;
  images_per_prompt?: number;
  sampler?: Sampler;
}
/**
 * Collects binary feedback (good / bad) on generated images; waits until quorum or the deadline.
 *
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "label_stage".
 */
export interface LabelStage1 {
  kind: 'label';
  images: StageRef;
  source: LabelSource;
  /**
   * Labels needed per image.
   */
  quorum?: number;
  aggregation?: 'majority' | 'mean';
}
/**
 * Trains r(x, z) on the labels with the auxiliary prompt-classification loss.
 *
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "reward_stage".
 */
export interface RewardStage1 {
  kind: 'reward';
  labels: StageRef;
  backbone?: {
    type?: 'tiny' | 'clip';
    /**
     * CLIP ONNX export folder (type: clip).
     */
    path?: string;
    /**
     * A reward model folder (reward.onnx with the same network) whose weights start the training, e.g. models/shapes-reward, pretrained on rendered image-prompt pairs (type: tiny).
     */
    init?: string;
    /**
     * Train the head only and keep the image and text encoders at their 'init' weights, as the paper keeps CLIP frozen (type: tiny; needs init).
     */
    freeze?: boolean;
  };
  /**
   * Weight of the auxiliary prompt-classification loss.
   */
  lambda?: number;
  /**
   * K: perturbed prompts per example in the auxiliary loss.
   */
  perturbations?: number;
  /**
   * T in softmax(r(x, z_i) / T).
   */
  temperature?: number;
  /**
   * Which labelled pairs the auxiliary loss uses.
   */
  aux_on?: 'positive' | 'all';
  /**
   * Where the auxiliary loss's perturbed prompts come from: 'vocabulary' swaps a colour, count, background or shape word for any other of the vocabulary; 'labelled' keeps only the swaps that are prompts of training labels, so every candidate is some image's own prompt and the loss cannot teach the model to score a prompt low from its text alone (a prompt with no labelled neighbour gets no auxiliary term).
   */
  perturb_from?: 'vocabulary' | 'labelled';
  learning_rate?: number;
  epochs?: number;
  batch_size?: number;
  validation_split?: number;
  /**
   * Labelled pairs whose prompt is in this split are never trained on; the reward model's accuracy and AUC on them is reported as test_* metrics (e.g. label both splits and hold out unseen prompts).
   */
  test_split?: 'seen' | 'unseen';
  hidden?: number;
  /**
   * The reward head: 'mlp' scores r = s(x, z), the MLP over image and text features; 'centered' scores r = s(x, z) - mean over reference images x' of s(x', z) + c0, so no function of the prompt alone reaches the score (the reference images are a seeded draw of the training labels' images, stored with the model).
   */
  head?: 'mlp' | 'centered';
  /**
   * How many labelled training images the 'centered' head centres over (32 when absent; fewer when there are fewer training labels). Only with head: centered, so it has no schema default.
   */
  reference_images?: number;
}
/**
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "optimizer".
 */
export interface Optimizer2 {
  type?: 'adamw' | 'sgd';
  weight_decay?: number;
  grad_clip?: number;
  schedule?: 'constant' | 'cosine';
  warmup_steps?: number;
}
/**
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "lora".
 */
export interface Lora1 {
  rank?: number;
  alpha?: number;
  /**
   * Modules that get adapters, as diffusers/peft name them: a name matches modules whose path ends with it (to_q, to_out.0), a glob matches whole module paths (down_blocks.*.attentions.*); a pattern naming no module is matched against weight (initializer) names.
   *
   * @minItems 1
   */
  targets?: [string, ...string[]];
}
/**
 * Reward-weighted likelihood fine-tuning: E[w * ||eps - eps_theta||^2] + beta * E_pre[||eps - eps_theta||^2].
 *
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "finetune_stage".
 */
export interface FinetuneStage1 {
  kind: 'finetune';
  model: ModelRef;
  labels: StageRef;
  /**
   * The name of another stage.
   */
  reward?: string;
  /**
   * w in the loss: the binary label or the reward model's score.
   */
  weight?: 'label' | 'reward';
  unlabelled?: {
    images: StageRef;
    /**
     * Keep images whose reward is at least this.
     */
    threshold?: number;
    weighting?: 'threshold' | 'reward';
  };
  pretrain_data?: {
    source?: 'shapes' | 'folder';
    /**
     * A Hugging Face imagefolder (source: folder): images beside a metadata.jsonl of {file_name, text} lines, relative to the spec file. Resized on the shorter side and centre-cropped to the model; VAE-encoded once for latent models.
     */
    path?: string;
    /**
     * Pretraining samples: rendered images (source: shapes), or the first N images of metadata.jsonl (source: folder).
     */
    size?: number;
    /**
     * Share of rendered images (source: shapes) captioned with one wrong count, colour or background word, as the base model's pretraining data was.
     */
    misdescribe?: number;
  };
  /**
   * Weight of the pretraining loss.
   */
  beta?: number;
  method?: 'lora' | 'full';
  lora?: Lora;
  steps?: number;
  learning_rate?: number;
  batch_size?: number;
  optimizer?: Optimizer;
  checkpoint_every?: number;
  /**
   * Keep an exponential moving average of the weights while fine-tuning with this decay and export the average. Omit for none.
   */
  ema_decay?: number;
}
/**
 * Judges alignment per category, mean reward and fidelity for each model on seen and unseen prompts over fixed seeds.
 *
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "evaluate_stage".
 */
export interface EvaluateStage1 {
  kind: 'evaluate';
  /**
   * @minItems 1
   */
  models: [ModelRef, ...ModelRef[]];
  reward?: StageRef;
  /**
   * The name of another stage.
   */
  prompts?: string;
  /**
   * @minItems 1
   */
  splits?: ['seen' | 'unseen', ...('seen' | 'unseen')[]];
  /**
   * @minItems 1
   */
  categories?: [
    'color' | 'count' | 'background' | 'combination',
    ...('color' | 'count' | 'background' | 'combination')[]
  ];
  per_category?: number;
  /**
   * @minItems 1
   */
  seeds?: [Seed, ...Seed[]];
  sampler?: Sampler1;
}
/**
 * Trains a base model on rendered shapes with the denoising loss (builds the tiny model).
 *
 * This interface was referenced by `Experiment`'s JSON-Schema
 * via the `definition` "pretrain_stage".
 */
export interface PretrainStage1 {
  kind: 'pretrain';
  /**
   * A model name from models:, or the name of a finetune or pretrain stage.
   */
  model: string;
  /**
   * Scheduler settings the UNet is trained for; written into the new model's scheduler_config.json.
   */
  scheduler?: {
    /**
     * What the UNet predicts: the noise, or v (steadier at high noise for tiny models).
     */
    prediction_type?: 'epsilon' | 'v_prediction';
    beta_schedule?: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
    num_train_timesteps?: number;
  };
  data?: {
    source?: 'shapes';
    /**
     * @minItems 1
     */
    categories?: [
      'color' | 'count' | 'background' | 'combination',
      ...('color' | 'count' | 'background' | 'combination')[]
    ];
    size?: number;
    /**
     * Share of images captioned loosely, as web captions are: the prompt of the same shape with one wrong count, colour or background word.
     */
    misdescribe?: number;
  };
  steps?: number;
  learning_rate?: number;
  batch_size?: number;
  optimizer?: Optimizer1;
  checkpoint_every?: number;
  /**
   * Keep an exponential moving average of the UNet weights with this decay and export the average (sharper samples). Omit for none.
   */
  ema_decay?: number;
}
