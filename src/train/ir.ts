// ONNX graph IR: load and save ModelProto (with external data), tensor <-> typed array, attributes.
//
// Everything in src/train works on plain `onnx.ModelProto` objects from onnx-proto; this file is
// the one place that knows how tensors are stored (raw bytes, typed fields, side files).
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { onnx } from './onnx';

export type DType = 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';
export type TypedArray =
  Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

/** A tensor's values as a typed array (float16 as Uint16Array bit patterns, bool as Uint8Array 0/1). */
export interface TensorValue {
  dtype: DType;
  dims: number[];
  data: TypedArray;
}

const CODES: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
};
const BY_CODE = new Map<number, DType>(Object.entries(CODES).map(([k, v]) => [v, k as DType]));

export function dtypeCode(dtype: DType): number {
  return CODES[dtype];
}

export function dtypeOfCode(code: number): DType {
  const d = BY_CODE.get(code);
  if (!d)
    throw new Error(`ONNX data type ${code} is not supported by alignrun's training engine; use float32.`);
  return d;
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16';
}

/** protobufjs decodes int64 fields as Long objects when `long` is installed. */
export function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

export function numel(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function bytesPer(dtype: DType): number {
  return { float32: 4, float64: 8, float16: 2, int64: 8, int32: 4, int8: 1, uint8: 1, bool: 1 }[dtype];
}

/** Copies bytes into a fresh, aligned typed array of the given dtype. */
export function typedFromBytes(dtype: DType, bytes: Uint8Array): TypedArray {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const b = copy.buffer;
  switch (dtype) {
    case 'float32':
      return new Float32Array(b);
    case 'float64':
      return new Float64Array(b);
    case 'float16':
      return new Uint16Array(b);
    case 'int64':
      return new BigInt64Array(b);
    case 'int32':
      return new Int32Array(b);
    case 'int8':
      return new Int8Array(b);
    case 'uint8':
    case 'bool':
      return copy;
  }
}

export function bytesOf(data: TypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function emptyTyped(dtype: DType, n: number): TypedArray {
  return typedFromBytes(dtype, new Uint8Array(n * bytesPer(dtype)));
}

/** The dtype a typed array stands for (Uint16Array is float16 bits, Uint8Array is uint8). */
export function dtypeOfArray(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Uint16Array) return 'float16';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int8Array) return 'int8';
  return 'uint8';
}

function externalEntries(t: onnx.ITensorProto): Map<string, string> {
  return new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
}

function isExternal(t: onnx.ITensorProto): boolean {
  return t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL;
}

/** Reads the bytes of an external-data tensor from its side file (baseDir: the model's folder). */
function readExternal(t: onnx.ITensorProto, baseDir: string): Uint8Array {
  const e = externalEntries(t);
  const location = e.get('location');
  if (!location)
    throw new Error(`Tensor '${t.name}' is marked external but has no 'location'; re-export the model.`);
  const file = join(baseDir, location);
  if (!existsSync(file)) {
    throw new Error(
      `External data file '${file}' for tensor '${t.name}' is missing; keep it next to the model.`,
    );
  }
  const dtype = dtypeOfCode(t.dataType ?? 0);
  const offset = Number(e.get('offset') ?? 0);
  const length = e.has('length')
    ? Number(e.get('length'))
    : numel((t.dims ?? []).map(toNumber)) * bytesPer(dtype);
  const out = new Uint8Array(length);
  const fd = openSync(file, 'r');
  try {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    if (done !== length) {
      throw new Error(
        `External data file '${file}' ends before tensor '${t.name}' (${done} of ${length} bytes).`,
      );
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** A tensor's values. `baseDir` is needed only for tensors whose data lives in a side file. */
export function tensorValue(t: onnx.ITensorProto, baseDir?: string): TensorValue {
  const dtype = dtypeOfCode(t.dataType ?? 0);
  const dims = (t.dims ?? []).map(toNumber);
  const n = numel(dims);
  if (isExternal(t)) {
    if (baseDir === undefined)
      throw new Error(`Tensor '${t.name}' has external data: load it with loadModel(path).`);
    return { dtype, dims, data: typedFromBytes(dtype, readExternal(t, baseDir)) };
  }
  if (t.rawData && t.rawData.byteLength > 0) return { dtype, dims, data: typedFromBytes(dtype, t.rawData) };
  let data: TypedArray;
  switch (dtype) {
    case 'float32':
      data = Float32Array.from(t.floatData ?? []);
      break;
    case 'float64':
      data = Float64Array.from(t.doubleData ?? []);
      break;
    case 'int64':
      data = BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(String(v))));
      break;
    case 'float16':
      data = Uint16Array.from(t.int32Data ?? []);
      break;
    case 'int32':
      data = Int32Array.from(t.int32Data ?? []);
      break;
    case 'int8':
      data = Int8Array.from(t.int32Data ?? []);
      break;
    case 'uint8':
    case 'bool':
      data = Uint8Array.from(t.int32Data ?? []);
      break;
  }
  if (data.length !== n) {
    throw new Error(
      `Tensor '${t.name}' holds ${data.length} values but its dims ${JSON.stringify(dims)} need ${n}.`,
    );
  }
  return { dtype, dims, data };
}

/** A TensorProto with raw little-endian data. */
export function makeTensor(
  name: string,
  data: TypedArray,
  dims: readonly number[],
  dtype?: DType,
): onnx.TensorProto {
  const dt = dtype ?? dtypeOfArray(data);
  if (numel(dims) !== data.length) {
    throw new Error(`Tensor '${name}': ${data.length} values do not fill dims ${JSON.stringify(dims)}.`);
  }
  return onnx.TensorProto.create({
    name,
    dataType: CODES[dt],
    dims: [...dims],
    rawData: bytesOf(data).slice(),
  });
}

export function tensorByteLength(t: onnx.ITensorProto): number {
  if (isExternal(t)) return Number(externalEntries(t).get('length') ?? 0);
  if (t.rawData) return t.rawData.byteLength;
  return numel((t.dims ?? []).map(toNumber)) * bytesPer(dtypeOfCode(t.dataType ?? 1));
}

// ---- float16 bits ----

export function float16BitsToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** Round-to-nearest-even float32 -> float16 bits. */
export function numberToFloat16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  e = h >> 10;
  return sign | h;
}

// ---- attributes ----

export type AttrValue = number | string | number[] | string[] | onnx.ITensorProto | boolean;
const AT = onnx.AttributeProto.AttributeType;

/**
 * An AttributeProto from a JS value. Integers become INT, other numbers FLOAT; arrays become INTS
 * when every element is an integer, unless `floatKeys` marks them as floats (e.g. Resize scales).
 */
export function makeAttribute(name: string, value: AttrValue, asFloat = false): onnx.AttributeProto {
  if (typeof value === 'boolean') return onnx.AttributeProto.create({ name, type: AT.INT, i: value ? 1 : 0 });
  if (typeof value === 'number') {
    return Number.isInteger(value) && !asFloat
      ? onnx.AttributeProto.create({ name, type: AT.INT, i: value })
      : onnx.AttributeProto.create({ name, type: AT.FLOAT, f: value });
  }
  if (typeof value === 'string') {
    return onnx.AttributeProto.create({ name, type: AT.STRING, s: new TextEncoder().encode(value) });
  }
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') {
      const strings = (value as string[]).map((s) => new TextEncoder().encode(s));
      return onnx.AttributeProto.create({ name, type: AT.STRINGS, strings });
    }
    const nums = value as number[];
    return nums.every(Number.isInteger) && !asFloat
      ? onnx.AttributeProto.create({ name, type: AT.INTS, ints: nums })
      : onnx.AttributeProto.create({ name, type: AT.FLOATS, floats: nums });
  }
  return onnx.AttributeProto.create({ name, type: AT.TENSOR, t: value });
}

function findAttr(node: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

export function attrInt(node: onnx.INodeProto, name: string, fallback: number): number {
  const a = findAttr(node, name);
  return a ? toNumber(a.i) : fallback;
}

export function attrFloat(node: onnx.INodeProto, name: string, fallback: number): number {
  const a = findAttr(node, name);
  return a ? (a.f ?? 0) : fallback;
}

export function attrInts(node: onnx.INodeProto, name: string): number[] | undefined {
  const a = findAttr(node, name);
  return a ? (a.ints ?? []).map(toNumber) : undefined;
}

export function attrFloats(node: onnx.INodeProto, name: string): number[] | undefined {
  const a = findAttr(node, name);
  return a ? [...(a.floats ?? [])] : undefined;
}

export function attrString(node: onnx.INodeProto, name: string, fallback: string): string {
  const a = findAttr(node, name);
  return a?.s ? new TextDecoder().decode(a.s) : fallback;
}

export function attrTensor(node: onnx.INodeProto, name: string): onnx.ITensorProto | undefined {
  return findAttr(node, name)?.t ?? undefined;
}

// ---- models ----

export function decodeModel(bytes: Uint8Array): onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

export function encodeModel(model: onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Loads a model file; tensors with external data are read into memory (inline raw data), so the
 * rest of the engine never sees side files. Node's readFileSync stops at 2 GiB: bigger graphs
 * must keep their weights in external data (which is how exporters write them).
 */
export function loadModel(path: string): onnx.ModelProto {
  if (!existsSync(path)) throw new Error(`Model file '${path}' does not exist; check the path.`);
  let model: onnx.ModelProto;
  try {
    model = decodeModel(readFileSync(path));
  } catch (e) {
    throw new Error(`'${path}' is not a readable ONNX model (${(e as Error).message}).`);
  }
  const baseDir = dirname(path);
  for (const t of allTensors(model.graph)) {
    if (!isExternal(t)) continue;
    t.rawData = readExternal(t, baseDir);
    t.externalData = [];
    t.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
  }
  return model;
}

/** Initializers and Constant-node value tensors, including those of subgraphs. */
function* allTensors(graph: onnx.IGraphProto | null | undefined): Generator<onnx.ITensorProto> {
  if (!graph) return;
  yield* graph.initializer ?? [];
  for (const n of graph.node ?? []) {
    for (const a of n.attribute ?? []) {
      if (a.t) yield a.t;
      yield* a.tensors ?? [];
      if (a.g) yield* allTensors(a.g);
      for (const g of a.graphs ?? []) yield* allTensors(g);
    }
  }
}

export interface SaveOptions {
  /** Initializers of at least this many bytes go to the side file (default: never). */
  externalDataThreshold?: number;
  /** Side file name, next to the model (default: `<model file name>.data`). */
  externalDataFile?: string;
}

/**
 * Writes a model; with `externalDataThreshold`, large initializers go to one side file with
 * `location`/`offset`/`length` entries (offsets 4 KiB aligned so readers can mmap). Both files are
 * written to temporaries and renamed, so a reader never sees half a model.
 */
export function saveModel(model: onnx.IModelProto, path: string, options: SaveOptions = {}): void {
  mkdirSync(dirname(path) || '.', { recursive: true });
  const threshold = options.externalDataThreshold ?? Infinity;
  const dataName = options.externalDataFile ?? `${basename(path)}.data`;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  // Shallow copies: the caller's model keeps its inline data.
  const initializer = (model.graph?.initializer ?? []).map((t) => {
    if (isExternal(t) || tensorByteLength(t) < threshold) return t;
    const bytes = bytesOf(tensorValue(t).data);
    const pad = (4096 - (offset % 4096)) % 4096;
    if (pad) chunks.push(new Uint8Array(pad));
    offset += pad;
    chunks.push(bytes);
    const external: onnx.ITensorProto = {
      name: t.name,
      dataType: t.dataType,
      dims: t.dims,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: dataName },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(bytes.byteLength) },
      ],
    };
    offset += bytes.byteLength;
    return external;
  });
  const copy: onnx.IModelProto = { ...model, graph: { ...model.graph, initializer } };
  if (chunks.length > 0) {
    const dataPath = join(dirname(path), dataName);
    writeAtomic(dataPath, Buffer.concat(chunks));
  }
  writeAtomic(path, encodeModel(copy));
}

function writeAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/** Static dims of a graph input/output/value_info (symbolic or unknown dims become -1). */
export function valueInfoDims(v: onnx.IValueInfoProto): number[] | undefined {
  const shape = v.type?.tensorType?.shape;
  if (!shape) return undefined;
  return (shape.dim ?? []).map((d) =>
    d.dimValue !== null && d.dimValue !== undefined ? toNumber(d.dimValue) : -1,
  );
}

export function valueInfoDtype(v: onnx.IValueInfoProto): DType {
  return dtypeOfCode(v.type?.tensorType?.elemType ?? 1);
}

/** A ValueInfoProto; dims may hold symbolic names (strings) or be left out (unknown rank). */
export function makeValueInfo(
  name: string,
  dtype: DType,
  dims?: readonly (number | string)[],
): onnx.ValueInfoProto {
  const shape = dims
    ? { dim: dims.map((d) => (typeof d === 'number' && d >= 0 ? { dimValue: d } : { dimParam: String(d) })) }
    : undefined;
  return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: CODES[dtype], shape } } });
}
