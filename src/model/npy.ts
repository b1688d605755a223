/**
 * NumPy's .npy format (version 1 and 2 headers, little-endian, C order): what researchers use to
 * hand arrays between tools, e.g. a diffusers run's initial `latents`. float64 is read as float32.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

/** A user-visible problem with a .npy file; one sentence. */
export class NpyError extends Error {
  override name = 'NpyError';
}

const MAGIC = '\x93NUMPY';

export function readNpy(path: string): NpyArray {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new NpyError(
      `${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the path.`,
    );
  }
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== MAGIC) {
    throw new NpyError(`${path} is not a .npy file (no NumPy magic); save the array with numpy.save.`);
  }
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) {
    throw new NpyError(`${path} has an unreadable .npy header; save the array with numpy.save.`);
  }
  if (fortran === 'True') {
    throw new NpyError(`${path} is in Fortran order; save numpy.ascontiguousarray(array) instead.`);
  }
  const shape = shapeText
    .split(',')
    .map((d) => d.trim())
    .filter(Boolean)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = buf.subarray(start);
  let data: Float32Array;
  if (descr === '<f4') {
    if (body.length < count * 4) throw new NpyError(`${path} ends before its ${count} float32 values.`);
    data = new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + count * 4));
  } else if (descr === '<f8') {
    if (body.length < count * 8) throw new NpyError(`${path} ends before its ${count} float64 values.`);
    const f64 = new Float64Array(body.buffer.slice(body.byteOffset, body.byteOffset + count * 8));
    data = Float32Array.from(f64);
  } else {
    throw new NpyError(
      `${path} holds '${descr}' values; alignrun reads little-endian float32 or float64 (array.astype('float32')).`,
    );
  }
  return { shape, data };
}

/** Writes a float32 array as a version-1 .npy file. */
export function writeNpy(path: string, data: Float32Array, shape: readonly number[]): void {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // Data starts at a multiple of 64 bytes; the header ends with a newline.
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad === 64 ? 0 : pad) + '\n';
  const head = Buffer.alloc(10);
  head.write(MAGIC, 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  writeFileSync(
    path,
    Buffer.concat([
      head,
      Buffer.from(header, 'latin1'),
      Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    ]),
  );
}
