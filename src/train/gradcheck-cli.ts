// `alignrun gradcheck MODEL.onnx --wrt NAME[,NAME...] [--loss sum|mean-square] [--tolerance X]`
// (the CLI owner wires runGradcheck into the alignrun command).
import { existsSync } from 'node:fs';
import { ERROR_FORMULA, gradcheck } from './gradcheck';
import { loadModel } from './ir';

const USAGE =
  'usage: alignrun gradcheck MODEL.onnx --wrt NAME[,NAME...] [--loss sum|mean-square] [--tolerance X] [--samples N] [--input-shape NAME=D,D,...]';

interface Args {
  model: string;
  wrt: string[];
  loss: 'sum' | 'mean-square';
  tolerance?: number;
  samples?: number;
  inputShapes: Record<string, number[]>;
}

class UsageError extends Error {}

function parse(argv: string[]): Args {
  const args: Partial<Args> & { inputShapes: Record<string, number[]> } = { loss: 'sum', inputShapes: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${a} needs a value.`);
      return v;
    };
    if (a === '--wrt') args.wrt = value().split(',').filter(Boolean);
    else if (a === '--loss') {
      const v = value();
      if (v !== 'sum' && v !== 'mean-square')
        throw new UsageError(`--loss '${v}' is not one of sum, mean-square.`);
      args.loss = v;
    } else if (a === '--tolerance') {
      const v = Number(value());
      if (!(v > 0)) throw new UsageError('--tolerance must be a positive number, e.g. 1e-4.');
      args.tolerance = v;
    } else if (a === '--samples') {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 1) throw new UsageError('--samples must be a positive integer.');
      args.samples = v;
    } else if (a === '--input-shape') {
      const m = /^([^=]+)=(\d+(,\d+)*)$/.exec(value());
      if (!m) throw new UsageError('--input-shape takes NAME=D,D,... e.g. sample=1,4,32,32.');
      args.inputShapes[m[1]] = m[2].split(',').map(Number);
    } else if (a.startsWith('--')) throw new UsageError(`Unknown option ${a}.`);
    else if (args.model === undefined) args.model = a;
    else throw new UsageError(`Unexpected argument '${a}': give one model file.`);
  }
  if (!args.model) throw new UsageError('Give the model file to check.');
  if (!args.wrt || args.wrt.length === 0)
    throw new UsageError('Name the weights to check with --wrt NAME[,NAME...].');
  return args as Args;
}

/** Runs the check and prints a table; returns the exit code (1: above tolerance or bad usage). */
export async function runGradcheck(
  argv: string[],
  print: (line: string) => void = console.log,
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    print(USAGE);
    return 0;
  }
  let args: Args;
  try {
    args = parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    print(`alignrun gradcheck: ${e.message}`);
    print(USAGE);
    return 1;
  }
  if (!existsSync(args.model)) {
    print(`alignrun gradcheck: model file '${args.model}' does not exist; check the path.`);
    return 1;
  }
  let report;
  try {
    const model = loadModel(args.model);
    report = await gradcheck(model, {
      wrt: args.wrt,
      loss: args.loss,
      samples: args.samples,
      inputShapes: args.inputShapes,
    });
  } catch (e) {
    print(`alignrun gradcheck: ${(e as Error).message}`);
    return 1;
  }
  const tolerance = args.tolerance ?? (report.precision === 'float64' ? 1e-6 : 1e-4);
  const rows = report.rows.map((r) => [
    r.param,
    String(r.checked),
    r.worstRelError.toExponential(2),
    r.analytic.toPrecision(8),
    r.numeric.toPrecision(8),
    r.worstRelError <= tolerance ? 'ok' : 'FAIL',
  ]);
  const header = ['parameter', 'checked', 'worst rel err', 'analytic', 'numeric', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  print(`gradient check: engine ${report.precision}, finite differences ${report.numericPrecision}`);
  if (report.numericNote)
    print(
      `warning: ${report.numericNote}; float32 finite differences can be off by ~1e-3 on correct gradients, so a FAIL below is not proof of a wrong one.`,
    );
  print(`relative error = ${ERROR_FORMULA}; tolerance ${tolerance}`);
  print(line(header));
  for (const r of rows) print(line(r));
  const failed = report.rows.filter((r) => r.worstRelError > tolerance).length;
  print(failed ? `${failed} parameter(s) above tolerance.` : 'all parameters within tolerance.');
  return failed ? 1 : 0;
}
