// Spec stage kinds are implemented in src/stages/<kind>.ts by their owners; until a kind's module
// exists its activity fails at once, non-retryably, with a sentence saying so.
import { ApplicationFailure } from '@temporalio/activity';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { StageImplementation } from '../src/runtime/stage';

export function implementedInSrc(kind: string): StageImplementation {
  const url = new URL(`../src/stages/${kind}.ts`, import.meta.url);
  let loaded: Promise<StageImplementation> | undefined;
  return async (input, ctx) => {
    if (!existsSync(fileURLToPath(url))) {
      throw ApplicationFailure.nonRetryable(
        `Stage kind ${kind} is not available yet: src/stages/${kind}.ts has not been written.`,
        'StageKindUnavailable',
      );
    }
    loaded ??= import(url.href).then((m: { run?: StageImplementation }) => {
      if (typeof m.run !== 'function') {
        throw ApplicationFailure.nonRetryable(
          `src/stages/${kind}.ts does not export run().`,
          'StageKindUnavailable',
        );
      }
      return m.run;
    });
    return (await loaded)(input, ctx);
  };
}
