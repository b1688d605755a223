import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startForwarder } from '../../src/labels/forwarder';
import { LabelStore } from '../../src/labels/store';
import { applyLabelEvents, countsByImage, emptyTally } from '../../src/labels/tally';
import type { LabelEvent } from '../../src/labels/types';
import { taskOf, tempStore } from './fixtures';

function seeded(n: number) {
  const t = tempStore();
  t.store.publishTask(taskOf('t', n));
  const rater = t.store.addRater('a').rater.id;
  for (let i = 0; i < n; i++) {
    t.store.recordLabel({ task: 't', image: `img-${i}`, rater, value: i % 2 ? 'bad' : 'good' });
  }
  return { ...t, rater };
}

test('sends in order, in batches, and removes events only after send resolved', async () => {
  const { store, cleanup } = seeded(25);
  const batches: LabelEvent[][] = [];
  let release!: () => void;
  let pendingDuringFirstSend = -1;
  const fwd = startForwarder({
    store,
    batchSize: 10,
    intervalMs: 20,
    send: async (batch) => {
      batches.push(batch);
      if (batches.length === 1) {
        pendingDuringFirstSend = store.pendingCount();
        await new Promise<void>((r) => (release = r));
      }
    },
  });
  try {
    while (batches.length === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(pendingDuringFirstSend, 25, 'nothing is removed while send is pending');
    release();
    await fwd.flush(5000);
    assert.deepEqual(
      batches.map((b) => b.length),
      [10, 10, 5],
    );
    const seqs = batches.flat().map((e) => e.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
    );
    assert.equal(store.pendingCount(), 0);
    assert.equal(fwd.delivered, 25);
  } finally {
    await fwd.stop();
    cleanup();
  }
});

test('a failing send is retried with the same events, and the receiver counts each once', async () => {
  const { store, cleanup } = seeded(12);
  const tally = emptyTally();
  let calls = 0;
  let duplicates = 0;
  const errors: number[] = [];
  const fwd = startForwarder({
    store,
    batchSize: 5,
    intervalMs: 10,
    onError: (_e, attempt) => errors.push(attempt),
    send: async (batch) => {
      calls += 1;
      // The receiver takes the batch, but the acknowledgement is lost on every other call.
      duplicates += applyLabelEvents(tally, batch).duplicates;
      if (calls % 2 === 1) throw new Error('acknowledgement lost');
    },
  });
  try {
    await fwd.flush(5000);
    assert.ok(errors.length >= 3);
    assert.ok(duplicates > 0, 'some batches really were sent twice');
    assert.equal(Object.keys(tally.labels).length, 12);
    const counts = countsByImage(tally, 't');
    assert.deepEqual(counts['img-0'], { good: 1, bad: 0 });
    assert.deepEqual(counts['img-1'], { good: 0, bad: 1 });
  } finally {
    await fwd.stop();
    cleanup();
  }
});

test('new labels are forwarded promptly, including undo as a retraction', async () => {
  const { store, rater, cleanup } = seeded(3);
  const tally = emptyTally();
  const fwd = startForwarder({
    store,
    intervalMs: 10_000,
    send: async (b) => void applyLabelEvents(tally, b),
  });
  try {
    await fwd.flush(2000);
    assert.equal(Object.keys(tally.labels).length, 3);
    store.undoLast(rater, 't');
    // intervalMs is long: only the store's notification can make this quick.
    await fwd.flush(2000);
    assert.deepEqual(Object.keys(tally.labels).sort(), [`t/img-0/${rater}`, `t/img-1/${rater}`]);
  } finally {
    await fwd.stop();
    cleanup();
  }
});

test('what was not acknowledged before a restart is sent after it', async () => {
  const { store, dir, cleanup } = seeded(7);
  const tally = emptyTally();
  const first = startForwarder({
    store,
    batchSize: 3,
    intervalMs: 10,
    onError: () => {},
    send: async (b) => {
      applyLabelEvents(tally, b);
      if (b[0].seq > 3) throw new Error('receiver went away');
    },
  });
  while (store.pendingCount() > 4) await new Promise((r) => setTimeout(r, 5));
  await first.stop();
  store.close();
  assert.equal(Object.keys(tally.labels).length, 6, 'the failed batch reached the receiver');

  const reopened = new LabelStore(join(dir, 'labels.db'));
  let duplicates = 0;
  const second = startForwarder({
    store: reopened,
    intervalMs: 10,
    send: async (b) => void (duplicates += applyLabelEvents(tally, b).duplicates),
  });
  try {
    await second.flush(5000);
    assert.equal(Object.keys(tally.labels).length, 7);
    assert.equal(duplicates, 3, 'the unacknowledged batch came again and was dropped');
  } finally {
    await second.stop();
    reopened.close();
    cleanup();
  }
});
