// A small typed client for MLflow's REST API (tracking + proxied artifacts), over fetch.
// Every failure is an MlflowError: one sentence naming the server and what failed, and whether
// trying again later may succeed (the outbox retries only those).
import { createReadStream, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { splitLogBatch, type KeyValue, type LogBatch, type Metric } from './batch';

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

export interface Experiment {
  experimentId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: 'active' | 'deleted';
}

export interface RunInfo {
  runId: string;
  experimentId: string;
  runName: string;
  status: RunStatus;
  startTime: number;
  endTime?: number;
  artifactUri: string;
  lifecycleStage: 'active' | 'deleted';
}

export interface Run {
  info: RunInfo;
  data: { metrics: Metric[]; params: Record<string, string>; tags: Record<string, string> };
}

export interface ArtifactFile {
  path: string;
  isDir: boolean;
  fileSize?: number;
}

export interface MlflowClientOptions {
  /** Per-request timeout in ms. Default 30 s; artifact uploads get ten times as long. */
  timeoutMs?: number;
  /** Bearer token. Default: $MLFLOW_TRACKING_TOKEN. */
  token?: string;
  /** Basic auth. Default: $MLFLOW_TRACKING_USERNAME / $MLFLOW_TRACKING_PASSWORD. */
  username?: string;
  password?: string;
  /** Aborts every request in flight (and later ones) when it fires, e.g. on shutdown. */
  signal?: AbortSignal;
}

/** The tag that makes run creation idempotent: the caller's deterministic key for the run. */
export const RUN_KEY_TAG = 'alignrun.key';
export const PARENT_RUN_TAG = 'mlflow.parentRunId';
export const RUN_NAME_TAG = 'mlflow.runName';

export class MlflowError extends Error {
  override name = 'MlflowError';
  constructor(
    message: string,
    readonly url: string,
    /** True when the same request may succeed later (server unreachable, 5xx, 429, timeout). */
    readonly retryable: boolean,
    readonly status?: number,
    readonly errorCode?: string,
  ) {
    super(message);
  }
}

type RequestBody = NonNullable<RequestInit['body']>;

interface RequestOptions {
  query?: Record<string, string | undefined>;
  json?: unknown;
  body?: RequestBody;
  timeoutMs?: number;
  /** Return the body as bytes whatever its content type (artifact downloads). */
  raw?: boolean;
}

// Protobuf JSON spells non-finite doubles as strings; JSON.stringify would send null.
function metricJson(m: Metric) {
  const value = Number.isFinite(m.value) ? m.value : String(m.value);
  return { key: m.key, value, timestamp: m.timestamp, step: m.step };
}

function tagsToRecord(tags: KeyValue[] | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).map((t) => [t.key, t.value]));
}

function toRunInfo(raw: any): RunInfo {
  return {
    runId: raw.run_id ?? raw.run_uuid,
    experimentId: raw.experiment_id,
    runName: raw.run_name ?? '',
    status: raw.status,
    startTime: Number(raw.start_time ?? 0),
    endTime: raw.end_time === undefined ? undefined : Number(raw.end_time),
    artifactUri: raw.artifact_uri,
    lifecycleStage: raw.lifecycle_stage,
  };
}

function toRun(raw: any): Run {
  const metrics = (raw.data?.metrics ?? []).map((m: any) => ({ ...m, value: Number(m.value) }));
  return {
    info: toRunInfo(raw.info),
    data: { metrics, params: tagsToRecord(raw.data?.params), tags: tagsToRecord(raw.data?.tags) },
  };
}

/** Quotes a value for an MLflow search filter; quotes inside values cannot be escaped there. */
function filterLiteral(value: string): string {
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"')) return `"${value}"`;
  throw new Error(`The value ${value} holds both quote characters and cannot be searched for in MLflow.`);
}

/** Encodes a relative artifact path for a URL, refusing paths that would leave the run's folder. */
export function encodeArtifactPath(artifactPath: string): string {
  const parts = artifactPath.split('/');
  if (
    artifactPath === '' ||
    artifactPath.startsWith('/') ||
    parts.some((p) => p === '' || p === '.' || p === '..')
  ) {
    throw new Error(`Artifact path '${artifactPath}' must be relative, without empty, '.' or '..' parts.`);
  }
  return parts.map(encodeURIComponent).join('/');
}

export class MlflowClient {
  readonly url: string;
  private readonly timeoutMs: number;
  private readonly authHeader?: string;
  private readonly signal?: AbortSignal;
  private readonly artifactUris = new Map<string, string>();

  constructor(trackingUri: string, options: MlflowClientOptions = {}) {
    this.url = trackingUri.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.signal = options.signal;
    const token = options.token ?? process.env.MLFLOW_TRACKING_TOKEN;
    const user = options.username ?? process.env.MLFLOW_TRACKING_USERNAME;
    const pass = options.password ?? process.env.MLFLOW_TRACKING_PASSWORD;
    if (token) this.authHeader = `Bearer ${token}`;
    else if (user) this.authHeader = `Basic ${Buffer.from(`${user}:${pass ?? ''}`).toString('base64')}`;
  }

  // ---- experiments ----

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    try {
      const res = await this.request<any>(
        'GET',
        '/api/2.0/mlflow/experiments/get-by-name',
        `get experiment '${name}'`,
        {
          query: { experiment_name: name },
        },
      );
      const e = res.experiment;
      return {
        experimentId: e.experiment_id,
        name: e.name,
        artifactLocation: e.artifact_location,
        lifecycleStage: e.lifecycle_stage,
      };
    } catch (err) {
      if (err instanceof MlflowError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw err;
    }
  }

  /** Returns the id of the experiment called `name`, creating it if needed (safe under races). */
  async getOrCreateExperiment(name: string): Promise<string> {
    const existing = await this.getExperimentByName(name);
    if (existing?.lifecycleStage === 'deleted') {
      throw new MlflowError(
        `MLflow at ${this.url} holds a deleted experiment named '${name}'; restore it or choose another name.`,
        this.url,
        false,
      );
    }
    if (existing) return existing.experimentId;
    try {
      const res = await this.request<any>(
        'POST',
        '/api/2.0/mlflow/experiments/create',
        `create experiment '${name}'`,
        {
          json: { name },
        },
      );
      return res.experiment_id;
    } catch (err) {
      // Another process created it between our lookup and our create.
      if (err instanceof MlflowError && err.errorCode === 'RESOURCE_ALREADY_EXISTS') {
        const raced = await this.getExperimentByName(name);
        if (raced) return raced.experimentId;
      }
      throw err;
    }
  }

  // ---- runs ----

  async createRun(args: {
    experimentId: string;
    runName?: string;
    startTime?: number;
    tags?: KeyValue[];
  }): Promise<RunInfo> {
    const res = await this.request<any>(
      'POST',
      '/api/2.0/mlflow/runs/create',
      `create run '${args.runName ?? ''}'`,
      {
        json: {
          experiment_id: args.experimentId,
          run_name: args.runName,
          start_time: args.startTime ?? Date.now(),
          tags: args.tags ?? [],
        },
      },
    );
    return toRunInfo(res.run.info);
  }

  async updateRun(
    runId: string,
    update: { status?: RunStatus; endTime?: number; runName?: string },
  ): Promise<RunInfo> {
    const res = await this.request<any>('POST', '/api/2.0/mlflow/runs/update', `update run ${runId}`, {
      json: { run_id: runId, status: update.status, end_time: update.endTime, run_name: update.runName },
    });
    return toRunInfo(res.run_info);
  }

  async getRun(runId: string): Promise<Run> {
    const res = await this.request<any>('GET', '/api/2.0/mlflow/runs/get', `get run ${runId}`, {
      query: { run_id: runId },
    });
    return toRun(res.run);
  }

  /** Searches runs (all pages) with an MLflow filter string, e.g. "tags.`alignrun.key` = 'x'". */
  async searchRuns(args: {
    experimentIds: string[];
    filter?: string;
    orderBy?: string[];
    maxResults?: number;
  }): Promise<Run[]> {
    const runs: Run[] = [];
    let pageToken: string | undefined;
    const max = args.maxResults ?? Infinity;
    do {
      const res = await this.request<any>('POST', '/api/2.0/mlflow/runs/search', 'search runs', {
        json: {
          experiment_ids: args.experimentIds,
          filter: args.filter ?? '',
          order_by: args.orderBy,
          max_results: Math.min(1000, max - runs.length),
          page_token: pageToken,
        },
      });
      runs.push(...(res.runs ?? []).map(toRun));
      pageToken = res.next_page_token || undefined;
    } while (pageToken && runs.length < max);
    return runs;
  }

  /** Runs whose tag `key` equals `value`, oldest first. */
  findRunsByTag(experimentIds: string[], key: string, value: string, maxResults?: number): Promise<Run[]> {
    return this.searchRuns({
      experimentIds,
      filter: `tags.\`${key}\` = ${filterLiteral(value)}`,
      orderBy: ['attributes.start_time ASC'],
      maxResults,
    });
  }

  /**
   * Finds the run tagged `alignrun.key = key` in the experiment, or creates it: calling this again
   * after a crash or a retry returns the same run. Nested runs name their parent by run id.
   */
  async getOrCreateRun(args: {
    experimentId: string;
    runName: string;
    key: string;
    parentRunId?: string;
    tags?: KeyValue[];
    startTime?: number;
  }): Promise<RunInfo & { created: boolean }> {
    const [found] = await this.findRunsByTag([args.experimentId], RUN_KEY_TAG, args.key, 1);
    if (found) return { ...found.info, created: false };
    const identity: KeyValue[] = [{ key: RUN_KEY_TAG, value: args.key }];
    if (args.parentRunId) identity.push({ key: PARENT_RUN_TAG, value: args.parentRunId });
    const userTags = args.tags ?? [];
    const inline = userTags.length + identity.length <= 100 ? userTags : [];
    const info = await this.createRun({
      experimentId: args.experimentId,
      runName: args.runName,
      startTime: args.startTime,
      tags: [...identity, ...inline],
    });
    if (inline !== userTags) await this.logBatch(info.runId, { tags: userTags });
    return { ...info, created: true };
  }

  /** Logs metrics, params and tags, split into as many requests as MLflow's limits require. */
  async logBatch(runId: string, batch: LogBatch): Promise<void> {
    for (const part of splitLogBatch(batch)) {
      await this.request('POST', '/api/2.0/mlflow/runs/log-batch', `log a batch to run ${runId}`, {
        json: { run_id: runId, metrics: part.metrics.map(metricJson), params: part.params, tags: part.tags },
      });
    }
  }

  async setTag(runId: string, key: string, value: string): Promise<void> {
    await this.request('POST', '/api/2.0/mlflow/runs/set-tag', `set tag '${key}' on run ${runId}`, {
      json: { run_id: runId, key, value },
    });
  }

  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    const out: Metric[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.request<any>(
        'GET',
        '/api/2.0/mlflow/metrics/get-history',
        `get metric '${key}'`,
        {
          query: { run_id: runId, metric_key: key, max_results: '25000', page_token: pageToken },
        },
      );
      out.push(...(res.metrics ?? []).map((m: any) => ({ ...m, value: Number(m.value) })));
      pageToken = res.next_page_token || undefined;
    } while (pageToken);
    return out;
  }

  // ---- artifacts (through the server's proxy) ----

  /** Uploads bytes, or a file streamed from disk, to `artifactPath` inside the run's artifacts. */
  async uploadArtifact(
    runId: string,
    artifactPath: string,
    source: Uint8Array | { filePath: string },
  ): Promise<void> {
    const url = `${await this.artifactBase(runId)}/${encodeArtifactPath(artifactPath)}`;
    let body: RequestBody;
    if (source instanceof Uint8Array) {
      body = source;
    } else {
      try {
        if (!statSync(source.filePath).isFile()) throw new Error('not a file');
      } catch {
        throw new MlflowError(
          `Cannot upload ${source.filePath} to MLflow: it is not a readable file.`,
          this.url,
          false,
        );
      }
      body = Readable.toWeb(createReadStream(source.filePath)) as unknown as RequestBody;
    }
    await this.request('PUT', url, `upload artifact '${artifactPath}' to run ${runId}`, {
      body,
      timeoutMs: this.timeoutMs * 10,
    });
  }

  async listArtifacts(runId: string, path?: string): Promise<ArtifactFile[]> {
    const res = await this.request<any>(
      'GET',
      '/api/2.0/mlflow/artifacts/list',
      `list artifacts of run ${runId}`,
      {
        query: { run_id: runId, path },
      },
    );
    return (res.files ?? []).map((f: any) => ({
      path: f.path,
      isDir: Boolean(f.is_dir),
      fileSize: f.file_size === undefined ? undefined : Number(f.file_size),
    }));
  }

  async downloadArtifact(runId: string, artifactPath: string): Promise<Buffer> {
    const url = `${await this.artifactBase(runId)}/${encodeArtifactPath(artifactPath)}`;
    return this.request<Buffer>('GET', url, `download artifact '${artifactPath}' of run ${runId}`, {
      timeoutMs: this.timeoutMs * 10,
      raw: true,
    });
  }

  // The proxy serves `mlflow-artifacts:/<exp>/<run>/artifacts` (or `mlflow-artifacts://host/...`)
  // at /api/2.0/mlflow-artifacts/artifacts/<exp>/<run>/artifacts.
  private async artifactBase(runId: string): Promise<string> {
    let uri = this.artifactUris.get(runId);
    if (!uri) {
      uri = (await this.getRun(runId)).info.artifactUri;
      this.artifactUris.set(runId, uri);
    }
    const match = /^mlflow-artifacts:(?:\/\/[^/]*)?\/(.*)$/.exec(uri);
    if (!match) {
      throw new MlflowError(
        `Run ${runId} stores artifacts at ${uri}, which the MLflow server at ${this.url} does not proxy; ` +
          'start the server with --serve-artifacts and no --default-artifact-root.',
        this.url,
        false,
      );
    }
    return `/api/2.0/mlflow-artifacts/artifacts/${match[1].split('/').map(encodeURIComponent).join('/')}`;
  }

  // ---- transport ----

  private async request<T = unknown>(
    method: string,
    path: string,
    what: string,
    opts: RequestOptions = {},
  ): Promise<T> {
    const url = new URL(this.url + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const headers: Record<string, string> = {};
    if (this.authHeader) headers.authorization = this.authHeader;
    let body = opts.body;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (body !== undefined) {
      headers['content-type'] = 'application/octet-stream';
    }
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body,
        signal: this.signal
          ? AbortSignal.any([this.signal, AbortSignal.timeout(timeoutMs)])
          : AbortSignal.timeout(timeoutMs),
        // Needed by undici for streamed (file) bodies.
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (this.signal?.aborted) {
        throw new MlflowError(
          `Request to MLflow at ${this.url} was cancelled, could not ${what}.`,
          this.url,
          true,
        );
      }
      if (e.name === 'TimeoutError') {
        throw new MlflowError(
          `MLflow at ${this.url} did not answer within ${timeoutMs / 1000} s to ${what}.`,
          this.url,
          true,
        );
      }
      const why = e.cause?.code ?? e.cause?.message ?? e.message;
      throw new MlflowError(
        `MLflow at ${this.url} is unreachable, could not ${what} (${why}).`,
        this.url,
        true,
      );
    }
    const buf = Buffer.from(await res.arrayBuffer().catch(() => new ArrayBuffer(0)));
    if (!res.ok) {
      let code: string | undefined;
      let message = buf.toString('utf8');
      try {
        const parsed = JSON.parse(message);
        code = parsed.error_code;
        message = parsed.message ?? message;
      } catch {
        // not JSON: an HTML error page or a proxy's text
      }
      // Server messages can carry SQL and newlines: keep the first line, briefly.
      const first = message
        .split('\n')[0]
        .slice(0, 300)
        .replace(/[.\s]+$/, '');
      const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
      throw new MlflowError(
        `MLflow at ${this.url} could not ${what}: ${first || res.statusText} (HTTP ${res.status}${code ? ` ${code}` : ''}).`,
        this.url,
        retryable,
        res.status,
        code,
      );
    }
    if (!opts.raw && (res.headers.get('content-type') ?? '').includes('application/json')) {
      return (buf.length ? JSON.parse(buf.toString('utf8')) : {}) as T;
    }
    return buf as T;
  }
}
