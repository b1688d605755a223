// The labelling workflow on a real dev server: its Update validators, dedupe of re-sent batches,
// closing and collecting, continue-as-new with the tally carried, and the bridge from a real
// label store's outbox.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { acquireLabelBridge, labelReminder } from '../../src/labels/bridge';
import { LabelStore } from '../../src/labels/store';
import type { LabelEvent, LabelValue } from '../../src/labels/types';
import { WorkerSet } from '../../src/runtime/workers';
import {
  addLabelsUpdate,
  addRatersUpdate,
  closeLabelingSignal,
  collectLabelsUpdate,
  expandLabels,
  labelingProgressQuery,
  type LabelingInput,
} from '../../src/labels/protocol';
import { labeling } from '../../workflows/labeling';
import { startTestServer, type TestServer } from '../helpers/temporal';

let ts: TestServer;
let workers: WorkerSet;
let running: Promise<void>;
before(async () => {
  ts = await startTestServer();
  workers = await WorkerSet.create({
    connection: ts.env.nativeConnection,
    stateDir: ts.stateDir,
    queues: ['cpu'],
  });
  running = workers.run();
});
after(async () => {
  workers?.shutdown();
  await running;
  await ts?.stop();
});

const images = ['im-0', 'im-1', 'im-2', 'im-3'];
const baseInput = (task: string, extra: Partial<LabelingInput> = {}): LabelingInput => ({
  task,
  images,
  raters: ['r-alice', 'r-bob'],
  quorum: 2,
  aggregation: 'majority',
  deadline: '1h',
  minFraction: 0.8,
  onDeadline: 'fail',
  extendBy: '1h',
  ...extra,
});

let seq = 0;
const ev = (task: string, image: string, rater: string, value: LabelValue | null): LabelEvent => {
  seq += 1;
  return {
    id: `s1-${seq}`,
    store: 's1',
    seq,
    kind: value ? 'label' : 'retract',
    task,
    image,
    rater,
    value,
    at: '2026-01-01T00:00:00Z',
  };
};

async function refused(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: Error) => {
    assert.ok(err instanceof WorkflowUpdateFailedError, `${err.name}: ${err.message}`);
    assert.match(err.cause!.message, message);
    return true;
  });
}

async function untilClosed(h: WorkflowHandle<typeof labeling>): Promise<void> {
  while ((await h.query(labelingProgressQuery)).state !== 'closed')
    await new Promise((r) => setTimeout(r, 50));
}

test('validators refuse unknown tasks, images and raters and a closed task; re-sent batches count once', async () => {
  const task = 'label-validators';
  const h = await ts.env.client.workflow.start(labeling, {
    taskQueue: 'cpu',
    workflowId: task,
    args: [baseInput(task)],
  });
  await refused(
    h.executeUpdate(addLabelsUpdate, { args: [[ev(task, 'im-9', 'r-alice', 'good')]] }),
    /has no image 'im-9'/,
  );
  await refused(
    h.executeUpdate(addLabelsUpdate, { args: [[ev(task, 'im-0', 'r-mallory', 'good')]] }),
    /Rater 'r-mallory' is not registered/,
  );
  await refused(
    h.executeUpdate(addLabelsUpdate, { args: [[ev('label-other', 'im-0', 'r-alice', 'good')]] }),
    /task 'label-other' was sent to the workflow of task 'label-validators'/,
  );
  await refused(h.executeUpdate(addLabelsUpdate, { args: [[]] }), /1 to 1000 label events/);
  await refused(h.executeUpdate(collectLabelsUpdate), /still open/);
  // A refused batch changed nothing, even its good events.
  await refused(
    h.executeUpdate(addLabelsUpdate, {
      args: [[ev(task, 'im-1', 'r-alice', 'good'), ev(task, 'im-1', 'r-eve', 'good')]],
    }),
    /r-eve/,
  );
  assert.equal((await h.query(labelingProgressQuery)).labelled, 0);

  assert.equal(await h.executeUpdate(addRatersUpdate, { args: [['r-carol']] }), 3);
  const batch = [
    ev(task, 'im-0', 'r-alice', 'good'),
    ev(task, 'im-0', 'r-carol', 'bad'),
    ev(task, 'im-1', 'r-bob', 'good'),
    ev(task, 'im-1', 'r-bob', null), // undo
    ev(task, 'im-1', 'r-bob', 'bad'),
    ev(task, 'im-2', 'r-alice', 'skip'),
  ];
  assert.deepEqual(await h.executeUpdate(addLabelsUpdate, { args: [batch] }), {
    applied: 6,
    duplicates: 0,
    complete: 1,
    total: 4,
  });
  // The forwarder re-sends a batch it was not sure landed: nothing counts twice.
  const again = await h.executeUpdate(addLabelsUpdate, { args: [batch] });
  assert.deepEqual(again, { applied: 0, duplicates: 6, complete: 1, total: 4 });
  const p = await h.query(labelingProgressQuery);
  assert.equal(p.labelled, 2);
  assert.deepEqual(p.perRater, {
    'r-alice': { good: 1, bad: 0, skip: 1 },
    'r-bob': { good: 0, bad: 1, skip: 0 },
    'r-carol': { good: 0, bad: 1, skip: 0 },
  });

  await h.signal(closeLabelingSignal);
  await untilClosed(h);
  await refused(
    h.executeUpdate(addLabelsUpdate, { args: [[ev(task, 'im-3', 'r-alice', 'good')]] }),
    /Task 'label-validators' is closed and takes no more labels/,
  );
  await refused(h.executeUpdate(addRatersUpdate, { args: [['r-dave']] }), /closed/);
  const { summary, labels } = await h.executeUpdate(collectLabelsUpdate);
  assert.equal(summary.reason, 'closed');
  assert.deepEqual(
    expandLabels(labels).sort((a, b) => (a.image + a.rater).localeCompare(b.image + b.rater)),
    [
      { image: 'im-0', rater: 'r-alice', value: 'good' },
      { image: 'im-0', rater: 'r-carol', value: 'bad' },
      { image: 'im-1', rater: 'r-bob', value: 'bad' },
      { image: 'im-2', rater: 'r-alice', value: 'skip' },
    ],
  );
  // im-0 is a 1:1 tie (counted bad), im-1 bad; im-2 has only a skip.
  assert.deepEqual([summary.positive, summary.negative, summary.ties], [0, 2, 1]);
  assert.equal((await h.result()).complete, 1);
});

test('continue-as-new well before the Update limit carries the tally, raters and deadline', async () => {
  const task = 'label-can';
  const h = await ts.env.client.workflow.start(labeling, {
    taskQueue: 'cpu',
    workflowId: task,
    args: [baseInput(task, { quorum: 1, maxUpdatesPerRun: 3 })],
  });
  const deadline = (await h.query(labelingProgressQuery)).deadline;
  const firstRun = (await h.describe()).runId;
  await h.executeUpdate(addRatersUpdate, { args: [['r-carol']] });
  const sent: LabelEvent[] = [
    ev(task, 'im-0', 'r-carol', 'good'),
    ev(task, 'im-1', 'r-alice', 'bad'),
    ev(task, 'im-1', 'r-alice', 'good'),
    ev(task, 'im-2', 'r-bob', 'skip'),
    ev(task, 'im-2', 'r-bob', 'bad'),
  ];
  // One event per Update, and each re-sent once, as a forwarder retrying after a lost reply would.
  for (const e of sent) {
    for (let attempt = 0; ; attempt++) {
      try {
        await h.executeUpdate(addLabelsUpdate, { args: [[e]] });
        await h.executeUpdate(addLabelsUpdate, { args: [[e]] });
        break;
      } catch (err) {
        // An Update that reached a run as it continued as new is sent again, like the forwarder does.
        if (attempt > 20 || err instanceof WorkflowUpdateFailedError) throw err;
      }
    }
  }
  const p = await h.query(labelingProgressQuery);
  assert.ok(p.runs >= 3, `runs ${p.runs}`);
  assert.notEqual((await h.describe()).runId, firstRun);
  assert.equal(p.deadline, deadline, 'the deadline does not move with continue-as-new');
  assert.equal(p.complete, 3);
  assert.deepEqual(p.perRater['r-carol'], { good: 1, bad: 0, skip: 0 });
  await h.executeUpdate(addLabelsUpdate, { args: [[ev(task, 'im-3', 'r-carol', 'bad')]] });
  await untilClosed(h);
  const { summary, labels } = await h.executeUpdate(collectLabelsUpdate);
  assert.equal(summary.reason, 'quorum');
  assert.deepEqual(labels.values, { 'im-0': '..g', 'im-1': 'g..', 'im-2': '.b.', 'im-3': '..b' });
  await h.result();
});

test('the bridge routes outbox events to their task workflow and drops those of a closed task', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'alignrun-bridge-'));
  const dbPath = join(dir, 'labels.db');
  const store = new LabelStore(dbPath);
  const logs: string[] = [];
  const tasks = ['label-bridge-a', 'label-bridge-b'];
  const handles = await Promise.all(
    tasks.map((task) =>
      ts.env.client.workflow.start(labeling, {
        taskQueue: 'cpu',
        workflowId: task,
        args: [baseInput(task, { raters: [], quorum: 1 })],
      }),
    ),
  );
  for (const task of tasks) {
    store.publishTask({
      id: task,
      experiment: 'e',
      title: task,
      quorum: 1,
      images: images.map((id) => ({ id, prompt: 'a red circle', path: '/nonexistent' })),
    });
  }
  const alice = store.addRater('alice').rater.id;
  const bridge = acquireLabelBridge({ dbPath, client: ts.env.client, log: (l) => logs.push(l) });
  try {
    store.recordLabels(
      images.map((image, i) => ({ task: tasks[0], image, rater: alice, value: i % 2 ? 'good' : 'bad' })),
    );
    store.recordLabel({ task: tasks[1], image: 'im-0', rater: alice, value: 'good' });
    await untilClosed(handles[0]);
    const a = await handles[0].executeUpdate(collectLabelsUpdate);
    assert.deepEqual(a.labels.values, { 'im-0': 'b', 'im-1': 'g', 'im-2': 'b', 'im-3': 'g' });
    assert.equal(a.labels.raters[0], alice);

    await handles[1].signal(closeLabelingSignal);
    await untilClosed(handles[1]);
    // A label the page took before the stage closed the task in the store arrives too late.
    store.recordLabel({ task: tasks[1], image: 'im-1', rater: alice, value: 'bad' });
    while (store.pendingCount() > 0) await new Promise((r) => setTimeout(r, 50));
    const b = await handles[1].executeUpdate(collectLabelsUpdate);
    assert.deepEqual(b.labels.values, { 'im-0': 'g' });
    assert.equal(logs.length, 1);
    assert.match(
      logs[0],
      /1 label change\(s\) for task 'label-bridge-b' were not counted \(Task 'label-bridge-b' is closed/,
    );
    assert.equal(store.labels(tasks[1]).length, 2, 'the late label stays in the store');

    // Labels for a task no workflow runs for: one line that says so, however many arrive.
    const gone = 'label-bridge-gone';
    store.publishTask({
      id: gone,
      experiment: 'e',
      title: gone,
      quorum: 1,
      images: images.map((id) => ({ id, prompt: 'a red circle', path: '/nonexistent' })),
    });
    for (const image of ['im-0', 'im-1']) {
      store.recordLabel({ task: gone, image, rater: alice, value: 'good' });
      while (store.pendingCount() > 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(logs.length, 2, logs.join('\n'));
    assert.match(
      logs[1],
      /1 label change\(s\) for task 'label-bridge-gone' were not counted \(no labelling workflow runs for task 'label-bridge-gone': its run ended or was never started\)/,
    );
    assert.equal(store.labels(gone).length, 2, 'both stay in the store');
    await Promise.all(handles.map((h) => h.result()));
  } finally {
    await bridge.release();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('on_deadline extend waits another extend_by until min_fraction is reached, then proceeds', async () => {
  const task = 'label-extend';
  const h = await ts.env.client.workflow.start(labeling, {
    taskQueue: 'cpu',
    workflowId: task,
    args: [
      baseInput(task, { quorum: 1, deadline: '1s', extendBy: '2s', minFraction: 0.5, onDeadline: 'extend' }),
    ],
  });
  while ((await h.query(labelingProgressQuery)).extensions < 1) await new Promise((r) => setTimeout(r, 50));
  await h.executeUpdate(addLabelsUpdate, {
    args: [[ev(task, 'im-0', 'r-alice', 'good'), ev(task, 'im-1', 'r-bob', 'bad')]],
  });
  await untilClosed(h);
  const { summary } = await h.executeUpdate(collectLabelsUpdate);
  assert.equal(summary.reason, 'deadline');
  assert.equal(summary.complete, 2);
  assert.ok(summary.extensions >= 1);
  await h.result();
});

test('reminders are POSTed to the webhook by the labelReminder activity while the task is open', async () => {
  const posts: Record<string, unknown>[] = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      posts.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  const worker = await Worker.create({
    connection: ts.env.nativeConnection,
    taskQueue: 'label-reminders',
    activities: { labelReminder },
  });
  const task = 'label-reminder';
  await worker.runUntil(async () => {
    const h = await ts.env.client.workflow.start(labeling, {
      taskQueue: 'cpu',
      workflowId: task,
      args: [baseInput(task, { reminder: { webhook: url, every: '500ms', queue: 'label-reminders' } })],
    });
    while (posts.length < 2) await new Promise((r) => setTimeout(r, 50));
    await h.signal(closeLabelingSignal);
    await untilClosed(h);
    await h.executeUpdate(collectLabelsUpdate);
    await h.result();
  });
  await new Promise((r) => hook.close(r));
  assert.match(String(posts[0].text), /Labelling task 'label-reminder': 0 of 4 images have 2 label\(s\)/);
  assert.deepEqual([posts[0].task, posts[0].total, posts[0].quorum], [task, 4, 2]);
});
