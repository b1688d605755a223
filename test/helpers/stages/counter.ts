// Test stage: records every real execution in the state folder's counter store (SQLite), so tests
// can tell a cache hit from a re-run; holds for `params.ms` while heartbeating, and fails its
// first `params.fail_attempts` attempts (default none).
import { CounterStore } from './counters';
import type { StageContext, StageImplementation, StageInput, StageOutput } from '../../../src/runtime/stage';

const stores = new Map<string, CounterStore>();

function counters(stateDir: string): CounterStore {
  let s = stores.get(stateDir);
  if (!s) stores.set(stateDir, (s = CounterStore.forState(stateDir)));
  return s;
}

/** Runs `body` between a begin and an end row of the counter store. */
export async function recordExecution(
  input: StageInput,
  ctx: StageContext,
  startStep: number,
  body: () => Promise<StageOutput>,
): Promise<StageOutput> {
  const store = counters(ctx.stateDir);
  const { key, stage } = input.instance;
  const id = store.begin({ key, stage, trialId: input.trialId, attempt: ctx.attempt, startStep });
  try {
    const out = await body();
    store.end(id, 'done');
    return out;
  } catch (err) {
    store.end(id, ctx.signal.aborted ? 'cancelled' : 'failed');
    throw err;
  }
}

export const counter: StageImplementation = async (input, ctx) =>
  recordExecution(input, ctx, 0, async () => {
    const ms = Number(input.instance.params.ms ?? 0);
    for (let left = ms; left > 0; left -= 100) {
      await ctx.sleep(Math.min(100, left));
      ctx.heartbeat();
    }
    if (ctx.attempt <= Number(input.instance.params.fail_attempts ?? 0))
      throw new Error(`counter: attempt ${ctx.attempt} fails, as the test asked`);
    const extra = (input.instance.params.metrics as Record<string, number> | undefined) ?? {};
    return {
      artifacts: {},
      metrics: {
        ...extra,
        executions: counters(ctx.stateDir).executions({ key: input.instance.key }).length,
      },
    };
  });
