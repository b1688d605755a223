/** Messages between an OnnxWorker and its worker thread (structured-clone safe). */

export type ExecutionProvider = 'cpu' | 'webgpu' | 'cuda';
export const EXECUTION_PROVIDERS: readonly ExecutionProvider[] = ['cpu', 'webgpu', 'cuda'];

export type TensorDType = 'float32' | 'float16' | 'int32' | 'int64';
export type TensorArray = Float32Array | Uint16Array | Int32Array | BigInt64Array;

/** A tensor crossing the thread boundary: its buffer is transferred, not copied. */
export interface TensorData {
  dtype: TensorDType;
  dims: number[];
  data: TensorArray;
}

export interface LoadRequest {
  kind: 'load';
  id: number;
  name: string;
  path: string;
  provider: ExecutionProvider;
  allowCpuFallback: boolean;
  /** Keep onnxruntime's CPU arena and memory pattern (off by default: they grow the process a lot). */
  arena: boolean;
  intraOpThreads?: number;
}

export interface RunRequest {
  kind: 'run';
  id: number;
  name: string;
  feeds: Record<string, TensorData>;
}

export interface ReleaseRequest {
  kind: 'release';
  id: number;
  name: string;
}

export type Request = LoadRequest | RunRequest | ReleaseRequest;

export interface LoadReply {
  provider: ExecutionProvider;
  /** Why the asked-for provider was replaced by cpu, when it was. */
  fallbackReason?: string;
  inputNames: string[];
  outputNames: string[];
}

export type Reply =
  | { id: number; ok: true; load?: LoadReply; outputs?: Record<string, TensorData> }
  | { id: number; ok: false; message: string; providerFailed?: boolean };
