// Pretrains a base model on rendered shapes images outside the workflow (the pretrain stage's
// training, src/finetune/pretrain.ts), resumable, for the long runs models/tiny/README.md records:
//   node --import tsx scripts/pretrain.ts BASE_DIR OUT_DIR --steps N ...
import { pretrain } from '../src/finetune/pretrain';

async function main(argv: string[]): Promise<void> {
  const flags = new Map<string, number>();
  let provider = 'cpu';
  const scheduler: Record<string, unknown> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--provider') provider = argv[++i];
    else if (argv[i] === '--prediction-type') scheduler.prediction_type = argv[++i];
    else if (argv[i] === '--beta-schedule') scheduler.beta_schedule = argv[++i];
    else if (argv[i] === '--train-timesteps') scheduler.num_train_timesteps = Number(argv[++i]);
    else if (argv[i].startsWith('--')) flags.set(argv[i].slice(2), Number(argv[++i]));
    else positional.push(argv[i]);
  }
  if (positional.length !== 2 || [...flags.values()].some((v) => !Number.isFinite(v))) {
    console.error(
      'usage: node --import tsx scripts/pretrain.ts BASE_DIR OUT_DIR [--steps N] [--batch N] [--lr X] [--size N] [--seed N] [--checkpoint-every N] [--warmup N] [--threads N] [--max-minutes M] [--ema DECAY] [--misdescribe Q] [--provider cpu|webgpu] [--prediction-type epsilon|v_prediction] [--beta-schedule linear|scaled_linear|squaredcos_cap_v2] [--train-timesteps N]',
    );
    process.exit(2);
  }
  const started = Date.now();
  let sum = 0;
  let count = 0;
  const result = await pretrain({
    baseDir: positional[0],
    outDir: positional[1],
    params: {
      steps: flags.get('steps'),
      batch_size: flags.get('batch'),
      learning_rate: flags.get('lr'),
      data: { size: flags.get('size'), misdescribe: flags.get('misdescribe') },
      seed: flags.get('seed'),
      checkpoint_every: flags.get('checkpoint-every'),
      ema_decay: flags.get('ema'),
      optimizer: { schedule: 'cosine', warmup_steps: flags.get('warmup') ?? 0 },
      scheduler: Object.keys(scheduler).length ? scheduler : undefined,
    },
    session: { executionProviders: [provider], threads: flags.get('threads') },
    deadline: flags.has('max-minutes') ? started + flags.get('max-minutes')! * 60_000 : undefined,
    onProgress: ({ step, steps, loss }) => {
      sum += loss;
      count++;
      if (step % 25 === 0 || step === steps) {
        const s = ((Date.now() - started) / 1000).toFixed(0);
        console.log(`step ${step}/${steps} loss ${(sum / count).toFixed(4)} (${s} s)`);
        sum = 0;
        count = 0;
      }
    },
  });
  console.log(`wrote ${result.modelDir}`);
}

main(process.argv.slice(2)).catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
