import { relative } from 'node:path';
import { formatDiagnostic, isError } from '../spec/diagnostics';
import { validateSpec } from '../spec/validate';
import { SET_HELP, splitOverrides } from './overrides';

export async function run(argv: string[]): Promise<number> {
  const { files, overrides } = splitOverrides(argv);
  if (argv.includes('--help') || files.length === 0) {
    console.log(
      `usage: alignrun validate FILE... [--set PATH=VALUE]...\n\nChecks each spec against the schema and the semantic rules; prints file:line:col: message per problem.\n${SET_HELP}`,
    );
    return files.length === 0 && !argv.includes('--help') ? 2 : 0;
  }
  let failed = 0;
  for (const file of files) {
    const shown = relative(process.cwd(), file) || file;
    const { diagnostics } = validateSpec(shown, undefined, overrides);
    for (const d of diagnostics) console.error(formatDiagnostic(d));
    if (!diagnostics.some(isError)) console.log(`${shown}: ok`);
    else failed++;
  }
  return failed > 0 ? 1 : 0;
}
