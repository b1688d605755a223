import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { onnx } from '../train/onnx';

/** Name, element type and dims (numbers, or names for symbolic dims) of one graph input or output. */
export interface TensorSignature {
  name: string;
  /** ONNX element type name: float32, float16, int64, int32, ... */
  dtype: string;
  dims: (number | string)[];
}

export interface OnnxSignature {
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}

/** The file is not a readable ONNX model. */
export class NotOnnxError extends Error {
  override name = 'NotOnnxError';
}

const ELEMENT_TYPES: Record<number, string> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  16: 'bfloat16',
};

const MODEL_IR_VERSION = 1;
const MODEL_GRAPH = 7;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;

/**
 * Reads a model's graph inputs and outputs without reading its weights: walks the protobuf
 * fields on disk and skips everything else, so it costs a few reads even for multi-GiB UNets
 * (which a whole-file decode could not even hold: Node buffers stop at 2 GiB).
 */
export function readOnnxSignature(path: string): OnnxSignature {
  return walkGraph(path, (reader, graph) => {
    const inputs: TensorSignature[] = [];
    const outputs: TensorSignature[] = [];
    for (const f of reader.fields(graph.start, graph.end)) {
      if (f.wire !== 2 || (f.field !== GRAPH_INPUT && f.field !== GRAPH_OUTPUT)) continue;
      const info = onnx.ValueInfoProto.decode(reader.bytes(f.start, f.end));
      (f.field === GRAPH_INPUT ? inputs : outputs).push(signature(info));
    }
    return { inputs, outputs };
  });
}

/** Opens a model file, finds its graph field and hands both to `read`; any failure is a NotOnnxError. */
function walkGraph<T>(
  path: string,
  read: (reader: FieldReader, graph: { start: number; end: number }) => T,
): T {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const reader = new FieldReader(fd, size);
    let graph: { start: number; end: number } | undefined;
    let sawIrVersion = false;
    for (const f of reader.fields(0, size)) {
      if (f.field === MODEL_IR_VERSION && f.wire === 0) sawIrVersion = true;
      if (f.field === MODEL_GRAPH && f.wire === 2) graph = { start: f.start, end: f.end };
    }
    if (!sawIrVersion || !graph) throw new NotOnnxError('no ONNX ir_version or graph field');
    return read(reader, graph);
  } catch (err) {
    if (err instanceof NotOnnxError) throw err;
    throw new NotOnnxError((err as Error).message);
  } finally {
    closeSync(fd);
  }
}

function signature(info: onnx.ValueInfoProto): TensorSignature {
  const t = info.type?.tensorType;
  const dims = (t?.shape?.dim ?? []).map((d) => {
    if (d.dimValue !== null && d.dimValue !== undefined) return Number(d.dimValue);
    return d.dimParam || '?';
  });
  return { name: info.name ?? '', dtype: ELEMENT_TYPES[t?.elemType ?? 0] ?? `type ${t?.elemType}`, dims };
}

interface Field {
  field: number;
  wire: number;
  /** Payload byte range (length-delimited fields) or the value's range. */
  start: number;
  end: number;
}

/** Positional protobuf field walker over a file descriptor (offsets may exceed 2^32). */
class FieldReader {
  private readonly scratch = Buffer.alloc(20);

  constructor(
    private readonly fd: number,
    private readonly size: number,
  ) {}

  bytes(start: number, end: number): Uint8Array {
    const buf = Buffer.alloc(end - start);
    readSync(this.fd, buf, 0, buf.length, start);
    return buf;
  }

  *fields(start: number, end: number): Generator<Field> {
    let pos = start;
    while (pos < end) {
      const tag = this.varint(pos, end);
      pos = tag.next;
      const field = Math.floor(tag.value / 8);
      const wire = tag.value % 8;
      if (field === 0) throw new NotOnnxError(`invalid field number at byte ${pos}`);
      let s = pos;
      let e: number;
      if (wire === 0) e = this.varint(pos, end).next;
      else if (wire === 1) e = pos + 8;
      else if (wire === 5) e = pos + 4;
      else if (wire === 2) {
        const len = this.varint(pos, end);
        s = len.next;
        e = s + len.value;
      } else throw new NotOnnxError(`unsupported protobuf wire type ${wire} at byte ${pos}`);
      if (e > end || e > this.size) throw new NotOnnxError(`field runs past the end at byte ${pos}`);
      yield { field, wire, start: s, end: e };
      pos = e;
    }
  }

  varintAt(pos: number): number {
    return this.varint(pos, this.size).value;
  }

  varintWithNext(pos: number, end: number): { value: number; next: number } {
    return this.varint(pos, end);
  }

  private varint(pos: number, end: number): { value: number; next: number } {
    const n = readSync(this.fd, this.scratch, 0, Math.min(10, end - pos), pos);
    let value = 0;
    let scale = 1;
    for (let i = 0; i < n; i++) {
      const b = this.scratch[i];
      value += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) return { value, next: pos + i + 1 };
    }
    throw new NotOnnxError(`truncated varint at byte ${pos}`);
  }
}

const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const TENSOR_DIMS = 1;
const TENSOR_NAME = 8;

/** The graph's nodes (op type, name, inputs, outputs) and its initializers' dims, read without the weights. */
export interface OnnxGraphOutline {
  nodes: { opType: string; name: string; inputs: string[]; outputs: string[] }[];
  initializerDims: Map<string, number[]>;
}

/**
 * Like readOnnxSignature, the nodes and the initializers' names and dims: each initializer's
 * fields are walked and its data skipped, so even multi-GiB inline weights cost only seeks.
 */
export function readOnnxOutline(path: string): OnnxGraphOutline {
  return walkGraph(path, (reader, graph) => {
    const outline: OnnxGraphOutline = { nodes: [], initializerDims: new Map() };
    for (const f of reader.fields(graph.start, graph.end)) {
      if (f.wire !== 2) continue;
      if (f.field === GRAPH_NODE) {
        const n = onnx.NodeProto.decode(reader.bytes(f.start, f.end));
        outline.nodes.push({
          opType: n.opType ?? '',
          name: n.name ?? '',
          inputs: n.input ?? [],
          outputs: n.output ?? [],
        });
      } else if (f.field === GRAPH_INITIALIZER) {
        let name = '';
        const dims: number[] = [];
        for (const t of reader.fields(f.start, f.end)) {
          if (t.field === TENSOR_NAME && t.wire === 2)
            name = Buffer.from(reader.bytes(t.start, t.end)).toString();
          else if (t.field === TENSOR_DIMS && t.wire === 0) dims.push(reader.varintAt(t.start));
          else if (t.field === TENSOR_DIMS && t.wire === 2) {
            let pos = t.start;
            while (pos < t.end) {
              const v = reader.varintWithNext(pos, t.end);
              dims.push(v.value);
              pos = v.next;
            }
          }
        }
        outline.initializerDims.set(name, dims);
      }
    }
    return outline;
  });
}
