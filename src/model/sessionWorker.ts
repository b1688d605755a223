// The worker thread behind OnnxWorker: owns onnxruntime sessions so their blocking run() calls
// never stall the main thread's event loop (Temporal heartbeats, progress, HTTP).
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { LoadReply, LoadRequest, Reply, Request, TensorData } from './sessionProtocol';

const sessions = new Map<string, ort.InferenceSession>();
// A provider that cannot start is reported to the caller in one sentence; keep the native log quiet.
ort.env.logLevel = 'fatal';

async function create(req: LoadRequest, provider: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(req.path, {
    executionProviders: [provider],
    enableCpuMemArena: req.arena,
    enableMemPattern: req.arena,
    graphOptimizationLevel: 'all',
    ...(req.intraOpThreads ? { intraOpNumThreads: req.intraOpThreads } : {}),
    logSeverityLevel: 3,
  });
}

async function load(req: LoadRequest): Promise<LoadReply> {
  let session: ort.InferenceSession;
  let fallbackReason: string | undefined;
  try {
    session = await create(req, req.provider);
  } catch (err) {
    if (req.provider === 'cpu' || !req.allowCpuFallback)
      throw Object.assign(err as Error, { providerFailed: true });
    fallbackReason = firstLine(err);
    session = await create(req, 'cpu');
  }
  sessions.get(req.name)?.release();
  sessions.set(req.name, session);
  return {
    provider: fallbackReason ? 'cpu' : req.provider,
    fallbackReason,
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
  };
}

async function run(name: string, feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
  const session = sessions.get(name);
  if (!session) throw new Error(`no session named ${name} is loaded`);
  const inputs: Record<string, ort.Tensor> = {};
  for (const [key, t] of Object.entries(feeds)) inputs[key] = new ort.Tensor(t.dtype, t.data, t.dims);
  const results = await session.run(inputs);
  const outputs: Record<string, TensorData> = {};
  for (const [key, t] of Object.entries(results)) {
    // Copy out of onnxruntime's native buffer into one this thread owns and can transfer.
    const data = (t.data as TensorData['data']).slice();
    outputs[key] = { dtype: t.type as TensorData['dtype'], dims: [...t.dims], data };
    t.dispose();
  }
  return outputs;
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0];
}

parentPort!.on('message', async (req: Request) => {
  let reply: Reply;
  const transfer: ArrayBuffer[] = [];
  try {
    if (req.kind === 'load') reply = { id: req.id, ok: true, load: await load(req) };
    else if (req.kind === 'run') {
      const outputs = await run(req.name, req.feeds);
      for (const t of Object.values(outputs)) transfer.push(t.data.buffer as ArrayBuffer);
      reply = { id: req.id, ok: true, outputs };
    } else {
      await sessions.get(req.name)?.release();
      sessions.delete(req.name);
      reply = { id: req.id, ok: true };
    }
  } catch (err) {
    reply = {
      id: req.id,
      ok: false,
      message: firstLine(err),
      providerFailed: (err as any)?.providerFailed === true,
    };
  }
  parentPort!.postMessage(reply, transfer);
});
