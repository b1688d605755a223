// Diagnostic for the orchestration bench: the event-by-event timeline of a short noop chain, to
// see where a stage's time goes (server persistence, workflow tasks, activity dispatch).
import { WorkerSet } from '../src/runtime/workers';
import { trialInput } from '../src/runtime/slice';
import { buildPlan, type StageSpec } from '../test/workflows/plans';
import { testStages } from '../test/helpers/stages/index';
import { startTestServer } from '../test/helpers/temporal';

const ts = await startTestServer();
const workers = await WorkerSet.create({
  connection: ts.env.nativeConnection,
  stateDir: ts.stateDir,
  extraStages: testStages,
});
const stages: StageSpec[] = Array.from({ length: 6 }, (_, i) => ({
  name: `s${i}`,
  kind: 'noop',
  ...(i ? { deps: [`s${i - 1}`] } : {}),
}));
await workers.runUntil(
  (async () => {
    await ts.env.client.workflow.execute('experiment', {
      taskQueue: 'cpu',
      workflowId: 'w',
      args: [trialInput(buildPlan('w', [stages], { salt: 'w' }), 't0')],
    });
    await ts.env.client.workflow.execute('experiment', {
      taskQueue: 'cpu',
      workflowId: 'p',
      args: [trialInput(buildPlan('p', [stages], { salt: 'p' }), 't0')],
    });
    const h = await ts.env.client.workflow.getHandle('p').fetchHistory();
    let prev = 0;
    for (const e of h.events ?? []) {
      const t = Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6;
      console.log(String(Math.round(prev ? t - prev : 0)).padStart(5), e.eventType);
      prev = t;
    }
  })(),
);
await ts.stop();
