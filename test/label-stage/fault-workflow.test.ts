// The Done-when, end to end on a real dev server: the label server (`alignrun label-server`,
// its own process) is SIGKILLed while concurrent clients send 10,000 labels; after a restart, the
// labelling workflow, fed by the bridge's forwarder in this process, holds every acknowledged label
// exactly once.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { acquireLabelBridge } from '../../src/labels/bridge';
import { LabelStore } from '../../src/labels/store';
import { tallyKey } from '../../src/labels/tally';
import type { LabelValue } from '../../src/labels/types';
import {
  closeLabelingSignal,
  collectLabelsUpdate,
  expandLabels,
  labelingProgressQuery,
  labelsQuery,
} from '../../src/labels/protocol';
import { labeling } from '../../workflows/labeling';
import { startTestStack, type TestStack } from '../helpers/temporal';
import { postLabelsThroughRestarts, taskOf, tempDir } from '../labels/fixtures';

const IMAGES = 1000;
const RATERS = 10;
const CLIENTS = 64;
const KILL_AFTER_ACKS = 3000;
const TASK = 'fault-workflow';
const CLI = join(import.meta.dirname, '..', '..', 'bin', 'alignrun.js');

let stack: TestStack;
before(async () => {
  stack = await startTestStack({ queues: ['cpu'] });
});
after(async () => {
  await stack?.stop();
});

/** `alignrun label-server` on a free port; resolves with its URL once it is listening. */
function startLabelServerProcess(stateDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, 'label-server', '--state', stateDir, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = /^Label server at (\S+) /.exec(line);
      if (m) resolve({ child, url: m[1].replace(/\/$/, '') });
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`label server exited before it listened (${code ?? signal})`)),
    );
  });
}

test(
  'SIGKILL of the label server mid-load: the workflow holds every acknowledged label exactly once',
  { timeout: 150_000 },
  async () => {
    const { dir, cleanup } = tempDir('alignrun-fault-wf-');
    const dbPath = join(dir, 'labels.db');
    const setup = new LabelStore(dbPath);
    setup.publishTask(taskOf(TASK, IMAGES));
    const raters = Array.from({ length: RATERS }, (_, i) => setup.addRater(`r${i}`));
    setup.close();

    // Quorum above the number of raters: the task never closes on its own, so every label the
    // clients send is taken; it is closed with the signal once everything has been checked.
    const handle = await stack.env.client.workflow.start(labeling, {
      taskQueue: 'cpu',
      workflowId: TASK,
      args: [
        {
          task: TASK,
          images: Array.from({ length: IMAGES }, (_, i) => `img-${i}`),
          raters: [],
          quorum: RATERS + 1,
          aggregation: 'majority',
          deadline: '1h',
          minFraction: 0,
          onDeadline: 'proceed',
          extendBy: '1h',
        },
      ],
    });
    const bridgeLogs: string[] = [];
    const bridge = acquireLabelBridge({
      dbPath,
      client: stack.env.client,
      intervalMs: 50,
      log: (l) => bridgeLogs.push(l),
    });

    const values: LabelValue[] = ['good', 'bad', 'skip'];
    const work = raters.flatMap((r, ri) =>
      Array.from({ length: IMAGES }, (_, i) => ({
        token: r.token,
        rater: r.rater.id,
        image: `img-${i}`,
        value: values[(i * 7 + ri) % 3],
      })),
    );
    // Interleave raters so the kill lands in the middle of everyone's work.
    work.sort((a, b) => Number(a.image.slice(4)) - Number(b.image.slice(4)));

    let server = await startLabelServerProcess(dir);
    let up: Promise<void> = Promise.resolve();
    let killed = false;
    let inFlightAtKill = 0;
    let ackedAtKill = 0;
    const acked = new Map<string, LabelValue>();
    let lostToKill = 0;

    const killAndRestart = (inFlight: number) => {
      killed = true;
      inFlightAtKill = inFlight;
      ackedAtKill = acked.size;
      const dead = server.child;
      dead.kill('SIGKILL');
      up = new Promise<void>((r) => {
        if (dead.exitCode !== null || dead.signalCode !== null) r();
        else dead.once('exit', () => r());
      }).then(async () => {
        server = await startLabelServerProcess(dir);
      });
    };

    const t0 = performance.now();
    try {
      lostToKill = await postLabelsThroughRestarts({
        task: TASK,
        work,
        clients: CLIENTS,
        url: () => server.url,
        ready: () => up,
        onAck: (item, inFlight) => {
          acked.set(tallyKey(TASK, item.image, item.rater), item.value);
          if (!killed && acked.size >= KILL_AFTER_ACKS) killAndRestart(inFlight);
        },
      });
      const sendMs = performance.now() - t0;

      // Wait for the bridge's forwarder to drain the outbox into the workflow. The forwarder acks
      // an event only after the Update carrying it resolved, so an empty outbox means delivered.
      const deadline = Date.now() + 90_000;
      while (bridge.store.pendingCount() > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const drainMs = performance.now() - t0 - sendMs;

      assert.ok(killed, 'the label server was killed');
      assert.ok(
        ackedAtKill < work.length && inFlightAtKill > 0,
        `killed mid-load (${ackedAtKill} acked, ${inFlightAtKill} requests in flight)`,
      );
      assert.equal(acked.size, work.length, 'every label was eventually acknowledged');
      assert.equal(bridge.store.pendingCount(), 0, 'the outbox drained into the workflow');
      assert.deepEqual(bridgeLogs, [], 'the workflow refused nothing');

      // The store holds each acknowledged label once.
      const stored = bridge.store.labels(TASK);
      assert.equal(stored.length, acked.size, 'each acknowledged label stored exactly once');

      // The workflow's tally: each acknowledged (task, image, rater) exactly once, with its value.
      const { labels } = await handle.query(labelsQuery);
      const held = expandLabels(labels);
      const heldKeys = held.map((l) => tallyKey(TASK, l.image, l.rater));
      assert.equal(new Set(heldKeys).size, heldKeys.length, 'no label twice in the tally');
      assert.equal(held.length, acked.size, 'tally count = distinct acknowledged triples');
      const heldMap = new Map(held.map((l) => [tallyKey(TASK, l.image, l.rater), l.value]));
      for (const [key, value] of acked) assert.equal(heldMap.get(key), value, key);

      const progress = await handle.query(labelingProgressQuery);
      const perRaterTotal = Object.values(progress.perRater).reduce((n, c) => n + c.good + c.bad + c.skip, 0);
      assert.equal(perRaterTotal, acked.size, 'per-rater counts add up to the acknowledged labels');
      assert.equal(Object.keys(progress.perRater).length, RATERS);
      assert.equal(progress.state, 'open');

      await handle.signal(closeLabelingSignal);
      while ((await handle.query(labelingProgressQuery)).state !== 'closed')
        await new Promise((r) => setTimeout(r, 50));
      const outcome = await handle.executeUpdate(collectLabelsUpdate);
      assert.equal(outcome.summary.reason, 'closed');
      assert.equal(expandLabels(outcome.labels).length, acked.size);
      await handle.result();

      console.log(
        `fault-workflow test: ${work.length} labels from ${CLIENTS} clients acked in ` +
          `${(sendMs / 1000).toFixed(1)} s (killed after ${ackedAtKill} acks with ${inFlightAtKill} ` +
          `requests open; ${lostToKill} requests lost to the kill and re-sent), outbox drained into the ` +
          `workflow ${(drainMs / 1000).toFixed(1)} s later over ${progress.runs} run(s); ` +
          `${bridge.store.labels(TASK).length} stored, ${held.length} in the workflow's tally`,
      );
    } finally {
      if (server.child.exitCode === null && server.child.signalCode === null) {
        server.child.kill('SIGKILL');
        await new Promise((r) => server.child.once('exit', r));
      }
      await bridge.release();
      cleanup();
    }
  },
);
