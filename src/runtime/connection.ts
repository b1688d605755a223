// How alignrun reaches Temporal: an explicit cluster (flags or TEMPORAL_* env), else the local dev
// server recorded in the state folder by `alignrun up`.
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { readDevServer } from './devserver';
import { stateDir, UserError } from './paths';

export interface ConnectionFlags {
  address?: string;
  namespace?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  apiKey?: string;
  state?: string;
}

export interface ConnectionConfig {
  address: string;
  namespace: string;
  /** Client certificate and key (mTLS), optional server CA; PEM file paths. */
  tls?: { certPath?: string; keyPath?: string; caPath?: string };
  apiKey?: string;
  /** Where the address came from, for messages. */
  source: 'flags' | 'env' | 'dev-server';
}

/** Flags win over env; with neither, the dev server of the state folder (error if none runs). */
export function resolveConnection(flags: ConnectionFlags = {}, env = process.env): ConnectionConfig {
  const tlsCert = flags.tlsCert ?? env.TEMPORAL_TLS_CERT;
  const tlsKey = flags.tlsKey ?? env.TEMPORAL_TLS_KEY;
  const tlsCa = flags.tlsCa ?? env.TEMPORAL_TLS_CA;
  const apiKey = flags.apiKey ?? env.TEMPORAL_API_KEY;
  if (Boolean(tlsCert) !== Boolean(tlsKey)) {
    throw new UserError(
      'A TLS client certificate needs its key too: set both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY.',
    );
  }
  const tls = tlsCert || tlsCa ? { certPath: tlsCert, keyPath: tlsKey, caPath: tlsCa } : undefined;
  const address = flags.address ?? env.TEMPORAL_ADDRESS;
  const namespace = flags.namespace ?? env.TEMPORAL_NAMESPACE ?? 'default';
  if (address) return { address, namespace, tls, apiKey, source: flags.address ? 'flags' : 'env' };
  const state = stateDir(flags.state);
  const dev = readDevServer(state);
  if (!dev) {
    throw new UserError(
      `No Temporal server: run \`alignrun up\` to start the local one (state ${state}), or set TEMPORAL_ADDRESS.`,
    );
  }
  return {
    address: dev.address,
    namespace: flags.namespace ?? env.TEMPORAL_NAMESPACE ?? dev.namespace,
    source: 'dev-server',
  };
}

function tlsOptions(cfg: ConnectionConfig) {
  if (!cfg.tls) return cfg.apiKey ? true : undefined; // API keys need TLS (Temporal Cloud).
  const read = (p: string | undefined, what: string) => {
    if (!p) return undefined;
    try {
      return readFileSync(p);
    } catch {
      throw new UserError(`Cannot read the TLS ${what} at ${p}; check the path.`);
    }
  };
  const crt = read(cfg.tls.certPath, 'certificate');
  const key = read(cfg.tls.keyPath, 'key');
  return {
    clientCertPair: crt && key ? { crt, key } : undefined,
    serverRootCACertificate: read(cfg.tls.caPath, 'CA certificate'),
  };
}

/** A client for starting, querying and listing workflows. */
export async function connectClient(cfg: ConnectionConfig): Promise<Client> {
  try {
    const connection = await Connection.connect({
      address: cfg.address,
      tls: tlsOptions(cfg),
      apiKey: cfg.apiKey,
      connectTimeout: 10_000,
    });
    return new Client({ connection, namespace: cfg.namespace });
  } catch (err) {
    throw new UserError(`Cannot reach Temporal at ${cfg.address} (${firstLine(err)}).`);
  }
}

/** The native connection workers share. */
export async function connectNative(cfg: ConnectionConfig): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect({ address: cfg.address, tls: tlsOptions(cfg), apiKey: cfg.apiKey });
  } catch (err) {
    throw new UserError(`Cannot reach Temporal at ${cfg.address} (${firstLine(err)}).`);
  }
}

const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];
