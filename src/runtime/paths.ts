// Where alignrun keeps its local state and finds the tools that setup installed.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives in src/runtime/). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The state folder: `$ALIGNRUN_STATE`, else `.alignrun/` in the working directory. */
export function stateDir(explicit?: string): string {
  return path.resolve(explicit ?? process.env.ALIGNRUN_STATE ?? '.alignrun');
}

/** The Temporal CLI installed by `npm run setup` into the project venv. */
export function temporalBinary(): string {
  const venv = process.env.ALIGNRUN_VENV ?? path.join(repoRoot, '.venv');
  const bin = path.join(venv, 'bin', 'temporal');
  if (!existsSync(bin)) {
    throw new UserError(`The Temporal CLI is missing at ${bin}; run \`npm run setup\` to install it.`);
  }
  return bin;
}

/** An error meant for the user: the CLI prints its message alone, without a stack. */
export class UserError extends Error {
  override name = 'UserError';
}
