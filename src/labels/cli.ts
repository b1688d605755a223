// `alignrun raters add|list|revoke` and `alignrun label-server`: the people side of labelling.
import { join } from 'node:path';
import { parse, runVerb } from '../runtime/cli';
import { UserError, stateDir } from '../runtime/paths';
import { startLabelServer } from './server';
import { LabelStore } from './store';
import { LabelError } from './types';

/** The label server's port when none is given; token links point here by default. */
export const DEFAULT_LABEL_PORT = 8470;

export function labelDbPath(state?: string): string {
  return join(stateDir(state), 'labels.db');
}

/** Store errors are already one sentence for the user. */
function withStore<T>(state: string | undefined, body: (store: LabelStore) => T): T {
  const store = new LabelStore(labelDbPath(state));
  try {
    return body(store);
  } catch (err) {
    if (err instanceof LabelError) throw new UserError(`alignrun raters: ${err.message}`);
    throw err;
  } finally {
    store.close();
  }
}

const RATERS_HELP = `Usage:
  alignrun raters add NAME [--url BASE]   add a rater and print their personal labelling link (shown once)
  alignrun raters list                    list raters and whether they are revoked
  alignrun raters revoke NAME             stop a rater's link from working
Options:
  --url BASE    where raters reach the label server (env ALIGNRUN_LABEL_URL, default http://127.0.0.1:${DEFAULT_LABEL_PORT})
  --state DIR   state folder (env ALIGNRUN_STATE, default .alignrun); labels live in DIR/labels.db
`;

export async function runRaters(argv: string[]): Promise<number> {
  return runVerb(async () => {
    const { values, positionals } = parse('raters', argv, {
      url: { type: 'string' },
      state: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    const [action, name, ...extra] = positionals;
    if (values.help || !action) {
      process.stdout.write(RATERS_HELP);
      return values.help ? 0 : 2;
    }
    const needName = action === 'add' || action === 'revoke';
    if (needName && (!name || extra.length)) {
      throw new UserError(
        `alignrun raters ${action}: give exactly one rater name, e.g. 'alignrun raters ${action} alice'.`,
      );
    }
    if (action === 'add') {
      const base = (
        values.url ??
        process.env.ALIGNRUN_LABEL_URL ??
        `http://127.0.0.1:${DEFAULT_LABEL_PORT}`
      ).replace(/\/+$/, '');
      const { token } = withStore(values.state, (s) => s.addRater(name));
      process.stdout.write(
        `Added rater '${name}'. Their personal link (shown only now; anyone with it labels as ${name}):\n` +
          `${base}/?token=${token}\n`,
      );
      return 0;
    }
    if (action === 'revoke') {
      withStore(values.state, (s) => s.revokeRater(name));
      process.stdout.write(`Revoked rater '${name}': their link no longer works; their labels are kept.\n`);
      return 0;
    }
    if (action === 'list') {
      if (name) throw new UserError('alignrun raters list: takes no name.');
      const raters = withStore(values.state, (s) => s.listRaters());
      if (raters.length === 0)
        process.stdout.write("No raters yet; add one with 'alignrun raters add NAME'.\n");
      for (const r of raters) {
        process.stdout.write(
          `${r.name.padEnd(24)} ${r.revoked ? 'revoked' : 'active '}  since ${r.created}\n`,
        );
      }
      return 0;
    }
    throw new UserError(`alignrun raters: unknown action '${action}'; use add, list or revoke.`);
  });
}

const SERVER_HELP = `Usage: alignrun label-server [--port N] [--host H] [--state DIR]
Serves the labelling page and API for the tasks in DIR/labels.db until interrupted.
  --port N    port (default ${DEFAULT_LABEL_PORT}; 0 picks a free one)
  --host H    interface to listen on (default 127.0.0.1; put a TLS proxy in front for other machines)
`;

export async function runLabelServer(argv: string[]): Promise<number> {
  return runVerb(async () => {
    const { values, positionals } = parse('label-server', argv, {
      port: { type: 'string' },
      host: { type: 'string' },
      state: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      process.stdout.write(SERVER_HELP);
      return 0;
    }
    if (positionals.length)
      throw new UserError(`alignrun label-server: unexpected argument '${positionals[0]}'.`);
    const port = values.port === undefined ? DEFAULT_LABEL_PORT : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new UserError(
        `alignrun label-server: --port must be a whole number from 0 to 65535, got '${values.port}'.`,
      );
    }
    const store = new LabelStore(labelDbPath(values.state));
    let server;
    try {
      server = await startLabelServer({ store, port, host: values.host });
    } catch (err) {
      store.close();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') {
        throw new UserError(
          `alignrun label-server: port ${port} is in use; pass --port N (0 picks a free one).`,
        );
      }
      if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
        throw new UserError(`alignrun label-server: cannot listen on host '${values.host}'.`);
      }
      throw err;
    }
    const open = store.openTasks().length;
    process.stdout.write(
      `Label server at ${server.url} (${open} open task${open === 1 ? '' : 's'}). ` +
        `Raters open their link from 'alignrun raters add NAME'. Ctrl-C stops.\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    store.close();
    process.stdout.write('Label server stopped.\n');
    return 0;
  });
}
