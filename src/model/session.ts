import { Worker } from 'node:worker_threads';
import type { ExecutionProvider, LoadReply, Reply, Request, TensorData } from './sessionProtocol';

export { EXECUTION_PROVIDERS } from './sessionProtocol';
export type { ExecutionProvider, TensorData, TensorDType, TensorArray } from './sessionProtocol';

/** An execution provider could not start and falling back to cpu was not allowed. */
export class ProviderError extends Error {
  override name = 'ProviderError';
}

/** An ONNX session failed to load or run (bad feeds, a model the runtime rejects). */
export class SessionError extends Error {
  override name = 'SessionError';
}

export interface LoadOptions {
  /** Where to run: cpu (default), webgpu, or cuda (needs onnxruntime-node's CUDA 12 binaries). */
  provider?: ExecutionProvider;
  /** Use cpu when the provider cannot start, instead of failing (default false). */
  allowCpuFallback?: boolean;
  /** Keep onnxruntime's CPU memory arena and memory pattern (default false: they inflate memory). */
  arena?: boolean;
  /** Threads for one operator; default: onnxruntime's choice (all cores). */
  intraOpThreads?: number;
}

/** A loaded model inside the worker. */
export interface LoadedSession extends LoadReply {
  name: string;
  path: string;
}

/**
 * A worker thread that owns onnxruntime sessions. `session.run()` blocks its thread for the whole
 * inference (measured: 485 ms stalls), so sessions never run on the main thread. Requests are
 * served in order; tensors move between threads as transferred ArrayBuffers.
 */
export class OnnxWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private closed = false;

  constructor() {
    const ts = import.meta.url.endsWith('.ts');
    const file = new URL(ts ? './sessionWorker.ts' : './sessionWorker.js', import.meta.url);
    // Under tsx the worker must register tsx's loader itself before importing the .ts file (on
    // Node 20 neither the parent's hooks nor `--import tsx` in execArgv reach a worker's entry).
    const boot = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))};
register();
await import(${JSON.stringify(file.href)});`;
    this.worker = ts
      ? new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`))
      : new Worker(file);
    this.worker.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      p?.resolve(reply);
    });
    this.worker.on('error', (err) => this.failAll(err));
    this.worker.on('exit', (code) =>
      this.failAll(new SessionError(`the onnxruntime worker exited (code ${code}).`)),
    );
    // Idle workers must not keep the process alive.
    this.worker.unref();
  }

  /** Loads `path` as session `name` (replacing one of the same name). */
  async load(name: string, path: string, options: LoadOptions = {}): Promise<LoadedSession> {
    const provider = options.provider ?? 'cpu';
    const reply = await this.request({
      kind: 'load',
      id: 0,
      name,
      path,
      provider,
      allowCpuFallback: options.allowCpuFallback ?? false,
      arena: options.arena ?? false,
      intraOpThreads: options.intraOpThreads,
    });
    if (!reply.ok) {
      if (reply.providerFailed && provider !== 'cpu') {
        throw new ProviderError(
          `The ${provider} execution provider could not start for ${path} (${reply.message}); use provider cpu, or allow cpu fallback.`,
        );
      }
      throw new SessionError(`onnxruntime could not load ${path}: ${reply.message}`);
    }
    return { name, path, ...reply.load! };
  }

  /**
   * Runs session `name`. The feeds' buffers are transferred to the worker (detached here): pass
   * arrays you no longer need, or copies.
   */
  async run(name: string, feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    const transfer = Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer);
    const reply = await this.request({ kind: 'run', id: 0, name, feeds }, transfer);
    if (!reply.ok) throw new SessionError(`running ${name} failed: ${reply.message}`);
    return reply.outputs!;
  }

  async release(name: string): Promise<void> {
    await this.request({ kind: 'release', id: 0, name });
  }

  /** Releases every session and stops the thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker.terminate();
  }

  private request(req: Request, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.closed) return Promise.reject(new SessionError('the onnxruntime worker is closed.'));
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Referenced while a request is in flight, so the process waits for the answer.
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ ...req, id }, transfer);
    }).finally(() => {
      if (this.pending.size === 0) this.worker.unref();
    });
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
