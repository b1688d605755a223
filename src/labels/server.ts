// The labelling server: node:http, one page and a small JSON API. A rater is whoever holds the
// token; every write is made as that rater, and a label is acknowledged only after it committed.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname } from 'node:path';
import { groupCommitter } from './group-commit';
import { HttpError, discardBody, readJsonObject, sendJson, stringFields } from './http';
import type { LabelStore } from './store';
import { LABEL_VALUES, LabelError, type LabelValue, type Rater } from './types';

export interface LabelServerOptions {
  store: LabelStore;
  /** 0 picks a free port. Default 0. */
  port?: number;
  /** Default 127.0.0.1: raters on other machines need an explicit host (and a TLS proxy in front). */
  host?: string;
  /**
   * Deadlines in ms: for a request's headers (default 10 s), for the whole request (30 s), and for
   * an idle keep-alive connection (5 s).
   */
  timeouts?: { headersMs?: number; requestMs?: number; idleMs?: number };
  /** Where unexpected errors are reported. Default: console.error. */
  log?: (line: string) => void;
}

export interface LabelServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

const STATUS_OF: Record<LabelError['code'], number> = {
  invalid: 400,
  forbidden: 403,
  not_found: 404,
  closed: 409,
  conflict: 409,
};

const IMAGE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
};

function loadPage(): { html: string; csp: string } {
  const html = readFileSync(new URL('./page.html', import.meta.url), 'utf8');
  // The page's one inline script is allowed by its hash, so nothing injected could run.
  const script = /<script>([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
  const hash = createHash('sha256').update(script).digest('base64');
  const csp = `default-src 'none'; script-src 'sha256-${hash}'; style-src 'unsafe-inline'; img-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
  return { html, csp };
}

/** Headers past this size get 431 (Node's default size; a rater's request needs far less). */
const MAX_HEADER_BYTES = 16 * 1024;

/** The client aborted or reset the request: reading its body or writing the reply failed for that. */
function clientWentAway(req: IncomingMessage, err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return (
    req.destroyed ||
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'ECONNABORTED' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    (err as Error)?.message === 'aborted'
  );
}

export async function startLabelServer(options: LabelServerOptions): Promise<LabelServer> {
  const { store, port = 0, host = '127.0.0.1', log = (l: string) => console.error(l) } = options;
  const timeouts = { headersMs: 10_000, requestMs: 30_000, idleMs: 5_000, ...options.timeouts };
  const page = loadPage();
  const record = groupCommitter(store);

  const authenticate = (req: IncomingMessage): Rater => {
    const header = req.headers.authorization ?? '';
    // The scheme is case-insensitive (RFC 9110 section 11.1); the token is not.
    const m = /^bearer +([A-Za-z0-9_-]{16,128})$/i.exec(header);
    if (!m) {
      throw new HttpError(
        401,
        'Open the labelling page through your personal link (it carries your token).',
        {
          'www-authenticate': 'Bearer',
        },
      );
    }
    const rater = store.raterForToken(m[1]);
    if (!rater)
      throw new HttpError(401, 'This token is not known; ask for a new link.', {
        'www-authenticate': 'Bearer',
      });
    if (rater.revoked)
      throw new HttpError(403, `Rater '${rater.name}' has been revoked; ask for a new link.`);
    return rater;
  };

  const progressFor = (task: string, rater: Rater) => {
    const p = store.progress(task);
    const mine = p.perRater.find((r) => r.rater === rater.id)?.labelled ?? 0;
    return {
      total: p.total,
      complete: p.complete,
      quorum: p.quorum,
      // Raters see their own count and the task's, never each other's names or counts.
      mine,
    };
  };

  const openTask = (id: string) => {
    const t = store.getTask(id);
    if (!t) throw new HttpError(404, `There is no task '${id}'.`);
    if (t.status !== 'open') throw new HttpError(409, `Task '${id}' is closed.`);
    return t;
  };

  const routes = async (req: IncomingMessage, res: ServerResponse, parts: string[]) => {
    const method = req.method ?? 'GET';
    const rater = authenticate(req);
    const want = (m: string) => {
      if (method !== m) throw new HttpError(405, `Use ${m} for this address.`, { allow: m });
    };
    if (parts[0] === 'images' && parts.length === 3) {
      want('GET');
      return sendImage(res, parts[1], parts[2]);
    }
    if (parts[0] !== 'api') throw new HttpError(404, 'Not found.');
    const [, a, b, c] = parts;
    if (a === 'tasks' && parts.length === 2) {
      want('GET');
      const tasks = store.openTasks().map((t) => ({
        id: t.id,
        experiment: t.experiment,
        title: t.title,
        progress: progressFor(t.id, rater),
      }));
      return sendJson(res, 200, { rater: { id: rater.id, name: rater.name }, tasks });
    }
    if (a === 'tasks' && parts.length === 4 && c === 'next') {
      want('GET');
      const t = openTask(b);
      const im = store.nextImageFor(rater.id, t.id);
      const image = im && {
        id: im.id,
        prompt: im.prompt,
        category: im.category,
        split: im.split,
        url: `/images/${encodeURIComponent(t.id)}/${encodeURIComponent(im.id)}`,
      };
      return sendJson(res, 200, {
        task: t.id,
        title: t.title,
        image: image ?? null,
        progress: progressFor(t.id, rater),
      });
    }
    if (a === 'tasks' && parts.length === 4 && c === 'progress') {
      want('GET');
      if (!store.getTask(b)) throw new HttpError(404, `There is no task '${b}'.`);
      return sendJson(res, 200, progressFor(b, rater));
    }
    if (a === 'labels' && parts.length === 2) {
      want('POST');
      const body = stringFields(await readJsonObject(req), ['task', 'image', 'value'] as const, 'a label');
      if (!LABEL_VALUES.includes(body.value as LabelValue)) {
        throw new HttpError(400, `Field 'value' must be one of ${LABEL_VALUES.join(', ')}.`);
      }
      // Resolves after the commit that holds this label, so the 200 below is a promise kept.
      // Progress is left to /next: computing it per label would cost more than the label.
      const { label, changed } = await record({
        task: body.task,
        image: body.image,
        rater: rater.id,
        value: body.value as LabelValue,
      });
      return sendJson(res, 200, {
        changed,
        label: { task: label.task, image: label.image, value: label.value, seq: label.seq },
      });
    }
    if (a === 'labels' && parts.length === 3 && b === 'undo') {
      want('POST');
      const body = stringFields(await readJsonObject(req), ['task'] as const, 'an undo');
      const undone = store.undoLast(rater.id, body.task);
      return sendJson(res, 200, {
        undone: undone ? { image: undone.image, value: undone.value } : null,
        progress: progressFor(body.task, rater),
      });
    }
    throw new HttpError(404, 'Not found.');
  };

  const sendImage = (res: ServerResponse, task: string, image: string) => {
    // Only files registered for the task are served, never a path built from the request.
    const im = store.getImage(task, image);
    if (!im) throw new HttpError(404, `Task '${task}' has no image '${image}'.`);
    const stream = createReadStream(im.path);
    stream.once('error', () => {
      if (!res.headersSent)
        sendJson(res, 404, { error: `The file of image '${image}' is missing on the server.` });
      else res.destroy();
    });
    stream.once('open', () => {
      res.writeHead(200, {
        'content-type': IMAGE_TYPES[extname(im.path).toLowerCase()] ?? 'application/octet-stream',
        'cache-control': 'private, max-age=3600',
        'x-content-type-options': 'nosniff',
      });
      stream.pipe(res);
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/' || url.pathname === '/index.html') {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'Use GET for the page.');
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': page.csp,
          'referrer-policy': 'no-referrer',
          'x-content-type-options': 'nosniff',
          'cache-control': 'no-store',
        });
        return res.end(req.method === 'HEAD' ? undefined : page.html);
      }
      let parts: string[];
      try {
        parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
      } catch {
        throw new HttpError(400, 'The address is not correctly encoded.');
      }
      await routes(req, res, parts);
    } catch (err) {
      if (err instanceof HttpError) sendJson(res, err.status, { error: err.message }, err.headers);
      else if (err instanceof LabelError) sendJson(res, STATUS_OF[err.code], { error: err.message });
      else {
        if (clientWentAway(req, err)) {
          // Not a failure of the server: one line, no stack.
          log(`label server: ${req.method} ${req.url}: the client closed the connection before the reply`);
          return;
        }
        log(`label server: ${req.method} ${req.url}: ${(err as Error)?.stack ?? String(err)}`);
        if (!res.headersSent)
          sendJson(res, 500, { error: 'The server failed; the label was not stored. Try again.' });
      }
      discardBody(req);
    }
  };

  const server = createServer(
    {
      maxHeaderSize: MAX_HEADER_BYTES,
      // Node checks the deadlines below only this often (its default is 30 s).
      connectionsCheckingInterval: Math.min(1000, timeouts.headersMs / 2),
    },
    (req, res) => void handle(req, res),
  );
  // Slow or idle clients cannot hold connections open (slowloris): headers, whole requests and
  // idle keep-alive connections each have a deadline.
  server.headersTimeout = timeouts.headersMs;
  server.requestTimeout = timeouts.requestMs;
  server.keepAliveTimeout = timeouts.idleMs;
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\n\r\n`);
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
