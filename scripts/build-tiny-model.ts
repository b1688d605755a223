// Builds the tiny random text-to-image model (src/model/tiny.ts) into a folder:
//   node --import tsx scripts/build-tiny-model.ts models/tiny-random --seed 0
import { buildTinyModel } from '../src/model/tiny';

function main(argv: string[]): void {
  const flags = new Map<string, number>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) flags.set(argv[i].slice(2), Number(argv[++i]));
    else positional.push(argv[i]);
  }
  if (positional.length !== 1 || [...flags.values()].some((v) => !Number.isInteger(v))) {
    console.error(
      'usage: node --import tsx scripts/build-tiny-model.ts OUT_DIR [--seed N] [--batch N] [--width C]',
    );
    process.exit(2);
  }
  const width = flags.get('width');
  let dir: string;
  try {
    dir = buildTinyModel(positional[0], {
      seed: flags.get('seed'),
      batch: flags.get('batch'),
      blockChannels: width === undefined ? undefined : [width, 2 * width],
    });
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  console.log(`wrote ${dir}`);
}

main(process.argv.slice(2));
