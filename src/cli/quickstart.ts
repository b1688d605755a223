// `alignrun quickstart`: for now validates and plans experiments/quickstart.yaml; it grows into
// the full pipeline run as the stages land.
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import { run as plan } from './plan';
import { run as validate } from './validate';

export async function run(_argv: string[]): Promise<number> {
  const spec = relative(
    process.cwd(),
    fileURLToPath(new URL('../../experiments/quickstart.yaml', import.meta.url)),
  );
  console.log(`alignrun quickstart: ${spec}\n`);
  const v = await validate([spec]);
  if (v !== 0) return v;
  console.log('');
  return plan([spec]);
}
