// The `alignrun` command: one verb per concept, each in its own module, loaded on demand so that
// `alignrun validate` never pays for Temporal or ONNX Runtime start-up.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type VerbModule = { run: (argv: string[]) => Promise<number> };

interface Verb {
  summary: string;
  /** The verb's module; undefined when this build has no such file. */
  load: () => Promise<VerbModule | undefined>;
}

/**
 * Verbs live in modules that other parts of alignrun provide; a verb whose own file is missing is
 * reported as not available, not thrown. A module that the verb's file imports being missing is
 * another matter (a broken install), and main() reports it as such.
 */
function lazy(rel: string, exportName = 'run'): () => Promise<VerbModule | undefined> {
  const url = new URL(rel, import.meta.url);
  return async () => {
    if (!existsSync(fileURLToPath(url))) return undefined;
    const mod = (await import(url.href)) as Record<string, VerbModule['run']>;
    return { run: mod[exportName] };
  };
}

const verbs: Record<string, Verb> = {
  validate: { summary: 'check spec files; errors as file:line:col', load: lazy('./validate.ts') },
  plan: { summary: 'compile a spec and show its stage DAG, trials and cache state', load: lazy('./plan.ts') },
  quickstart: { summary: 'the end-to-end example on the tiny model', load: lazy('./quickstart.ts') },
  up: { summary: 'start the local stack (Temporal, MLflow, label server, workers)', load: lazy('./up.ts') },
  down: { summary: 'stop the local stack', load: lazy('./down.ts') },
  worker: { summary: 'run a worker for a task queue (--queue cpu|gpu)', load: lazy('./worker.ts') },
  submit: {
    summary: 'run a spec as a workflow (idempotent; --wait to follow it)',
    load: lazy('./submit.ts'),
  },
  status: { summary: "list experiments, or one experiment's stages", load: lazy('./status.ts') },
  watch: { summary: 'live per-stage progress of one experiment', load: lazy('./watch.ts') },
  cancel: { summary: 'cancel a running experiment', load: lazy('./cancel.ts') },
  compare: {
    summary: 'swept values and metrics of runs and sweep trials, side by side',
    load: lazy('./compare.ts'),
  },
  resume: {
    summary: 'continue a failed or cancelled experiment from its first unfinished stage',
    load: lazy('./resume.ts'),
  },
  raters: { summary: 'add, list or revoke labelling raters', load: lazy('../labels/cli.ts', 'runRaters') },
  'label-server': {
    summary: 'serve the labelling page on its own',
    load: lazy('../labels/cli.ts', 'runLabelServer'),
  },
  sample: {
    summary: "text to image with a model folder (e.g. from a diffusers run's initial latents)",
    load: lazy('./sample.ts'),
  },
  gradcheck: {
    summary: "compare the training engine's gradients with finite differences",
    load: lazy('../train/gradcheck-cli.ts', 'runGradcheck'),
  },
};

function version(): string {
  const pkg = fileURLToPath(new URL('../../package.json', import.meta.url));
  return existsSync(pkg) ? (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version : 'unknown';
}

function usage(): string {
  const width = Math.max(...Object.keys(verbs).map((v) => v.length));
  const lines = Object.entries(verbs).map(([v, d]) => `  ${v.padEnd(width)}  ${d.summary}`);
  return `usage: alignrun <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nalignrun <command> --help shows a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    console.log(usage());
    return verb ? 0 : 2;
  }
  if (verb === '--version' || verb === 'version') {
    console.log(`alignrun ${version()}`);
    return 0;
  }
  const entry = verbs[verb];
  if (!entry) {
    console.error(`alignrun: unknown command '${verb}'; run 'alignrun --help' for the list.`);
    return 2;
  }
  let mod: VerbModule | undefined;
  try {
    mod = await entry.load();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      // Node's first line names the missing module and the file that imports it.
      console.error(`alignrun: '${verb}' cannot start: ${(e as Error).message.split('\n')[0]}.`);
      return 1;
    }
    throw e;
  }
  if (!mod) {
    console.error(`alignrun: '${verb}' is not available in this build yet.`);
    return 2;
  }
  try {
    return await mod.run(rest);
  } catch (e) {
    // Errors meant for the user carry their own sentence; anything else is a bug worth a trace.
    if (e instanceof Error && (e as { userFacing?: boolean }).userFacing) {
      console.error(`alignrun ${verb}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}
