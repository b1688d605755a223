// Shared plumbing for the runtime's CLI verbs: flag parsing and one-sentence errors.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Client } from '@temporalio/client';
import { connectClient, resolveConnection, type ConnectionFlags } from './connection';
import { UserError } from './paths';

export const connectionOptions = {
  address: { type: 'string' },
  namespace: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'api-key': { type: 'string' },
  state: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(
  verb: string,
  argv: string[],
  options: O,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UserError(`alignrun ${verb}: ${(err as Error).message.split('\n')[0]}`);
  }
}

export function connectionFlags(v: Record<string, unknown>): ConnectionFlags {
  const s = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  return {
    address: s('address'),
    namespace: s('namespace'),
    tlsCert: s('tls-cert'),
    tlsKey: s('tls-key'),
    tlsCa: s('tls-ca'),
    apiKey: s('api-key'),
    state: s('state'),
  };
}

export const CONNECTION_HELP =
  '  --address HOST:PORT   Temporal frontend (env TEMPORAL_ADDRESS; default: the server `alignrun up` started)\n' +
  '  --namespace NS        (env TEMPORAL_NAMESPACE, default "default")\n' +
  '  --tls-cert/--tls-key/--tls-ca PATH   mTLS (env TEMPORAL_TLS_CERT/KEY/CA); --api-key (env TEMPORAL_API_KEY)\n' +
  '  --state DIR           state folder (env ALIGNRUN_STATE, default .alignrun)\n';

/** Runs a verb: known problems print one sentence to stderr and exit 1; the rest keep their stack. */
export async function runVerb(body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UserError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    const e = err as Error;
    process.stderr.write(`alignrun: ${e?.message?.split('\n')[0] ?? String(err)}\n`);
    if (process.env.ALIGNRUN_DEBUG) process.stderr.write(`${e?.stack}\n`);
    return 1;
  }
}

/**
 * A verb that acts on one run: parses the connection flags (plus `--wait` when asked), requires
 * the run ID, connects, and closes the connection after `body`.
 */
export async function runIdVerb(
  verb: string,
  argv: string[],
  help: string,
  body: (client: Client, id: string, wait: boolean) => Promise<number>,
  opts: { wait?: boolean } = {},
): Promise<number> {
  return runVerb(async () => {
    const extra = opts.wait ? { wait: { type: 'boolean' } } : {};
    const { values, positionals } = parse(verb, argv, {
      ...connectionOptions,
      ...extra,
    } as typeof connectionOptions);
    if (values.help) {
      process.stdout.write(help);
      return 0;
    }
    const id = positionals[0];
    if (!id) throw new UserError(`alignrun ${verb}: give the run ID to ${verb} (see \`alignrun status\`).`);
    const client = await connectClient(resolveConnection(connectionFlags(values)));
    try {
      return await body(client, id, (values as Record<string, unknown>).wait === true);
    } finally {
      await client.connection.close();
    }
  });
}
