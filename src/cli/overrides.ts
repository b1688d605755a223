// `--set PATH=VALUE` on the commands that read a spec (validate, plan, submit): a value for one
// field, given as YAML (`--set stages.reward.lambda=0.3`, `--set 'stages.evaluate.splits=[seen]'`),
// applied to the file and checked like it; a problem in one is reported against the override.

export const SET_HELP = `  --set PATH=VALUE  override one field of the spec (VALUE is YAML); repeatable`;

/** The file arguments (neither flags nor `--set` overrides), and the overrides in order. */
export function splitOverrides(argv: string[]): { files: string[]; overrides: string[] } {
  const overrides: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--set') overrides.push(argv[++i] ?? '');
    else if (a.startsWith('--set=')) overrides.push(a.slice('--set='.length));
    else rest.push(a);
  }
  return { files: rest.filter((a) => !a.startsWith('-')), overrides };
}
