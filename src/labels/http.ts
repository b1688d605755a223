// Small HTTP helpers for the label server: JSON replies, a size-capped JSON body reader and an
// error type that carries its status, so every refusal is a 4xx with one readable sentence.
import type { IncomingMessage, ServerResponse } from 'node:http';

export const MAX_BODY_BYTES = 64 * 1024;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

/** Reads a JSON object body of at most MAX_BODY_BYTES. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, 'Send the body as JSON with Content-Type: application/json.');
  }
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > MAX_BODY_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw tooLarge();
    chunks.push(chunk);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'The request body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HttpError(400, 'The request body must be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

function tooLarge() {
  return new HttpError(413, `The request body is larger than ${MAX_BODY_BYTES / 1024} KiB.`, {
    connection: 'close',
  });
}

/** Checks that the object has exactly the allowed string fields (all required unless listed optional). */
export function stringFields<K extends string>(
  body: Record<string, unknown>,
  required: readonly K[],
  what: string,
): Record<K, string> {
  for (const key of Object.keys(body)) {
    if (!required.includes(key as K)) {
      throw new HttpError(400, `Unknown field '${key}': ${what} has only ${required.join(', ')}.`);
    }
  }
  const out = {} as Record<K, string>;
  for (const key of required) {
    const v = body[key];
    if (typeof v !== 'string' || v.length === 0 || v.length > 256) {
      throw new HttpError(
        400,
        `Field '${key}' of ${what} must be a non-empty string of at most 256 characters.`,
      );
    }
    out[key] = v;
  }
  return out;
}

/** After refusing a body we did not read, drain a bounded amount so the client can read the reply, then hang up. */
export function discardBody(req: IncomingMessage): void {
  if (req.readableEnded) return;
  let drained = 0;
  req.on('data', (c: Buffer) => {
    drained += c.length;
    if (drained > 16 * MAX_BODY_BYTES) req.destroy();
  });
  req.on('error', () => {});
  req.resume();
}
