// Gradient check: engine gradients against central finite differences.
//
// Precision: float64 when onnxruntime's CPU provider has a double kernel for every op of the
// training graph (the graph is widened with toFloat64), else float32 engine gradients against
// float64 finite differences of an equivalent graph (float-only ops decomposed, which covers every
// op with a gradient rule). Only where that reference cannot run (an op without a rule nor a
// double kernel, such as NonZero on float data) are the differences float32, and the report
// says why (numericNote): float32 rounding in the loss alone can then exceed the tolerance.
// Numeric derivative: Richardson-extrapolated central differences, (4 D(h/2) - D(h)) / 3 with
// D(h) = (L(p+h) - L(p-h)) / 2h (truncation O(h^4)), over halving steps, keeping the estimate
// that agrees best with its neighbour (see extrapolate). For 'sum' and 'mean-square'
// the loss is summed in float64 here from the forward output, so only the elements a parameter
// actually moves contribute rounding noise.
// Error per element: |a - n| / max(|a|, |n|, floor), floor = max(1e-8, 1e-3 * max_j |a_j|) over
// the parameter's checked elements (entries far below the parameter's gradient scale are judged
// relative to that scale). A parameter's score is the worst element.
import { type LossSpec, buildTrainingGraph, gradName, LOSS, selectTrainable } from './engine';
import { type TensorValue, emptyTyped, isFloat, numel, tensorValue, valueInfoDtype } from './ir';
import { onnx } from './onnx';
import { decomposeFloatOnly, toFloat64 } from './precision';
import { Rng } from './rng';
import { createSession, runSession } from './session';
import { type ShapeMap, inferShapes } from './shapes';

export interface GradcheckOptions {
  /** Initializers to check (they become trainable). */
  wrt: string[];
  loss?: LossSpec;
  output?: string;
  inputShapes?: Record<string, readonly number[]>;
  /** Data inputs; missing float inputs are uniform in [-1, 1), integer inputs zero. */
  inputs?: Record<string, TensorValue>;
  /** 'auto' (default): float64 when every op has a double kernel, else float32. */
  precision?: 'auto' | 'float64' | 'float32';
  /** Elements checked per parameter (default 24; all when the parameter is smaller). */
  samples?: number;
  seed?: number;
}

export interface GradcheckRow {
  param: string;
  checked: number;
  worstRelError: number;
  analytic: number;
  numeric: number;
}

export interface GradcheckReport {
  /** Precision of the engine's (analytic) gradients. */
  precision: 'float64' | 'float32';
  /** Precision of the finite differences (float64 when a float64 reference graph could run). */
  numericPrecision: 'float64' | 'float32';
  /** Why the finite differences are float32, when they are. */
  numericNote?: string;
  rows: GradcheckRow[];
  worst: number;
}

export const ERROR_FORMULA = '|a-n| / max(|a|, |n|, max(1e-8, 1e-3*max|a|))';

export async function gradcheck(
  model: onnx.IModelProto,
  options: GradcheckOptions,
): Promise<GradcheckReport> {
  const wrt = selectTrainable(model, options.wrt);
  const want = options.precision ?? 'auto';
  if (want !== 'float32') {
    try {
      return await check(toFloat64(model), 'float64', wrt, options);
    } catch (e) {
      if (want === 'float64' || !missingKernel(e)) throw e;
    }
  }
  return check(onnx.ModelProto.create(model), 'float32', wrt, options);
}

function missingKernel(e: unknown): boolean {
  return /implementation|kernel|not implemented/i.test((e as Error).message);
}

/**
 * The session that evaluates the loss for finite differences: in float64 where possible (with
 * float-only ops decomposed), since float32 rounding in the loss swamps small gradient entries.
 */
async function numericSession(
  model: onnx.IModelProto,
  precision: 'float64' | 'float32',
  wrt: string[],
  source: string,
  shapes: ShapeMap,
) {
  let note: string | undefined;
  if (precision === 'float32') {
    try {
      const wide = decomposeFloatOnly(toFloat64(model), shapes);
      return {
        session: await createSession(forwardWithParams(wide, wrt, source), { optimization: 'basic' }),
        wide: true,
      };
    } catch (e) {
      if (!missingKernel(e)) throw e;
      note = `no float64 reference graph could run: ${(e as Error).message.trim()}`;
    }
  }
  return {
    session: await createSession(forwardWithParams(model, wrt, source), { optimization: 'basic' }),
    wide: false,
    note,
  };
}

async function check(
  model: onnx.IModelProto,
  precision: 'float64' | 'float32',
  wrt: string[],
  options: GradcheckOptions,
): Promise<GradcheckReport> {
  const rng = new Rng(options.seed ?? 1);
  const shapes = await inferShapes(model, options.inputShapes);
  const training = await buildTrainingGraph(model, {
    trainable: wrt,
    loss: options.loss,
    output: options.output,
    shapes,
  });
  const trainSession = await createSession(training, { optimization: 'basic' });
  const lossSource = lossSourceName(model, options);
  const { session: forward, wide, note } = await numericSession(model, precision, wrt, lossSource, shapes);
  try {
    const feeds: Record<string, TensorValue> = {};
    for (const input of model.graph?.input ?? []) {
      const name = input.name ?? '';
      if (shapes.get(name) === undefined || wrt.includes(name)) continue;
      feeds[name] =
        options.inputs?.[name] ?? randomInput(valueInfoDtype(input), shapes.get(name)!.dims, rng, precision);
    }
    const params = new Map<string, TensorValue>();
    for (const t of model.graph?.initializer ?? [])
      if (wrt.includes(t.name ?? '')) params.set(t.name ?? '', tensorValue(t));
    const out = await runSession(trainSession, { ...feeds, ...Object.fromEntries(params) });

    // The reference's feeds, widened once for a float64 reference. The steps below perturb these
    // copies, so p +- h rounds in double: in the float32 parameter it was off by up to 6e-8, against
    // steps down to 3e-4, which put errors of 1e-5 into the difference quotients.
    const widen = (v: TensorValue): TensorValue =>
      wide && v.dtype === 'float32'
        ? { ...v, dtype: 'float64', data: Float64Array.from(v.data as Float32Array) }
        : v;
    const all = { ...feeds, ...Object.fromEntries(params) };
    const refFeeds = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, widen(v)]));
    const lossAt = async (): Promise<number> => {
      const r = await runSession(forward, refFeeds);
      return reduceLoss(r[lossSource].data as Float32Array | Float64Array, options.loss);
    };
    const rows: GradcheckRow[] = [];
    for (const p of wrt) {
      const data = refFeeds[p].data as Float32Array | Float64Array;
      const analytic = out[gradName(p)].data as Float32Array | Float64Array;
      const n = data.length;
      const count = Math.min(options.samples ?? 24, n);
      const picks = count === n ? [...Array(n).keys()] : sample(n, count, rng);
      const numeric: number[] = [];
      for (const i of picks) {
        const orig = data[i];
        const d = async (step: number) => {
          data[i] = orig + step;
          const up = await lossAt();
          data[i] = orig - step;
          const down = await lossAt();
          data[i] = orig;
          return (up - down) / (2 * step);
        };
        numeric.push(
          await extrapolate(d, (wide || precision === 'float64' ? 1e-2 : 0.5) * Math.max(1, Math.abs(orig))),
        );
      }
      const scale = Math.max(...picks.map((i) => Math.abs(analytic[i])));
      const floor = Math.max(1e-8, 1e-3 * scale);
      let worst = { err: 0, a: 0, n: 0 };
      picks.forEach((i, k) => {
        const a = analytic[i];
        const num = numeric[k];
        const err = Math.abs(a - num) / Math.max(Math.abs(a), Math.abs(num), floor);
        if (!(err <= worst.err)) worst = { err: Number.isNaN(err) ? Infinity : err, a, n: num };
      });
      rows.push({
        param: p,
        checked: picks.length,
        worstRelError: worst.err,
        analytic: worst.a,
        numeric: worst.n,
      });
    }
    const numericPrecision = wide || precision === 'float64' ? 'float64' : 'float32';
    const worst = Math.max(...rows.map((r) => r.worstRelError));
    return { precision, numericPrecision, numericNote: note, rows, worst };
  } finally {
    await trainSession.release();
    await forward.release();
  }
}

/**
 * Richardson-extrapolated central differences over halving steps h0, h0/2, ...; returns the
 * estimate that agrees best with the previous one (large steps lose to truncation, small ones to
 * rounding; the best agreement sits in between, as in Ridders' method).
 */
async function extrapolate(d: (h: number) => Promise<number>, h0: number, levels = 5): Promise<number> {
  let prevD = await d(h0);
  let prevR: number | undefined;
  let best = prevD;
  let bestErr = Infinity;
  for (let k = 1; k <= levels; k++) {
    const dk = await d(h0 / 2 ** k);
    const r = (4 * dk - prevD) / 3;
    if (prevR !== undefined) {
      const err = Math.abs(r - prevR);
      if (err < bestErr) {
        bestErr = err;
        best = r;
      }
    }
    prevR = r;
    prevD = dk;
  }
  return best;
}

function lossSourceName(model: onnx.IModelProto, options: GradcheckOptions): string {
  const spec = options.loss ?? 'sum';
  if (typeof spec === 'object') return spec.output;
  return options.output ?? model.graph?.output?.[0]?.name ?? LOSS;
}

function reduceLoss(y: Float32Array | Float64Array, spec: LossSpec | undefined): number {
  let s = 0;
  if (spec === 'mean-square') {
    for (const v of y) s += v * v;
    return s / y.length;
  }
  for (const v of y) s += v;
  return s;
}

/** The forward graph with the checked parameters as inputs and `output` as its only output. */
function forwardWithParams(model: onnx.IModelProto, params: string[], output: string): onnx.IModelProto {
  const g = model.graph ?? {};
  const set = new Set(params);
  const inits = g.initializer ?? [];
  const inputs = (g.input ?? []).filter((v) => !set.has(v.name ?? ''));
  for (const t of inits) {
    if (!set.has(t.name ?? '')) continue;
    const v = tensorValue(t);
    inputs.push({
      name: t.name,
      type: { tensorType: { elemType: t.dataType, shape: { dim: v.dims.map((d) => ({ dimValue: d })) } } },
    });
  }
  return {
    ...model,
    graph: {
      ...g,
      input: inputs,
      initializer: inits.filter((t) => !set.has(t.name ?? '')),
      output: [onnx.ValueInfoProto.create({ name: output })],
    },
  };
}

function randomInput(dtype: TensorValue['dtype'], dims: number[], rng: Rng, precision: string): TensorValue {
  const n = numel(dims);
  if (!isFloat(dtype)) return { dtype, dims, data: emptyTyped(dtype, n) };
  const data = precision === 'float64' ? new Float64Array(n) : new Float32Array(n);
  rng.fillUniform(data);
  return { dtype: precision === 'float64' ? 'float64' : 'float32', dims, data };
}

function sample(n: number, k: number, rng: Rng): number[] {
  const chosen = new Set<number>();
  while (chosen.size < k) chosen.add(rng.nextU32() % n);
  return [...chosen].sort((a, b) => a - b);
}
