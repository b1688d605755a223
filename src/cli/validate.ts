import { relative } from 'node:path';
import { formatDiagnostic, isError } from '../spec/diagnostics';
import { validateSpec } from '../spec/validate';

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.length === 0) {
    console.log(
      'usage: alignrun validate FILE...\n\nChecks each spec against the schema and the semantic rules; prints file:line:col: message per problem.',
    );
    return argv.length === 0 ? 2 : 0;
  }
  let failed = 0;
  for (const file of argv) {
    const shown = relative(process.cwd(), file) || file;
    const { diagnostics } = validateSpec(shown);
    for (const d of diagnostics) console.error(formatDiagnostic(d));
    if (!diagnostics.some(isError)) console.log(`${shown}: ok`);
    else failed++;
  }
  return failed > 0 ? 1 : 0;
}
