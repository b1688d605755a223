// The label server, in its own process, is SIGKILLed while concurrent clients send 10,000 labels
// and its forwarder has a batch in flight. After a restart: every acknowledged label is stored
// exactly once, and the receiver counts every label exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { LabelStore } from '../../src/labels/store';
import { applyLabelEvents, emptyTally, tallyKey } from '../../src/labels/tally';
import type { LabelEvent, LabelValue } from '../../src/labels/types';
import { postLabelsThroughRestarts, taskOf, tempDir } from './fixtures';

const IMAGES = 2500;
const RATERS = 4;
const CLIENTS = 64;
const KILL_AFTER_ACKS = 3000;

function startChild(db: string, receiver: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'fault-child.ts'), db, receiver],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.startsWith('READY ')) resolve({ child, url: line.slice(6) });
    });
    child.once('exit', (code) => reject(new Error(`label server child exited early with ${code}`)));
  });
}

test(
  'SIGKILL mid-load: acknowledged labels stored once, forwarded events counted once',
  { timeout: 90_000 },
  async () => {
    const { dir, cleanup } = tempDir();
    const db = join(dir, 'labels.db');
    const setup = new LabelStore(db);
    setup.publishTask(taskOf('f', IMAGES));
    const raters = Array.from({ length: RATERS }, (_, i) => setup.addRater(`r${i}`));
    setup.close();

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

    // The receiver stands in for the workflow: it applies each batch on arrival, then answers.
    const tally = emptyTally();
    let applied = 0;
    let redelivered = 0;
    let killRequested = false;
    let server!: { child: ChildProcess; url: string };
    let killedWithBatchInFlight = false;
    let killedAt = 0;
    let restartMs = 0;
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const batch = JSON.parse(Buffer.concat(chunks).toString()) as LabelEvent[];
        const r = applyLabelEvents(tally, batch);
        applied += r.applied;
        redelivered += r.duplicates;
        if (killRequested && !killedWithBatchInFlight) {
          // Killed after the receiver took the batch but before the sender heard back, while
          // clients still have labels in flight.
          killedWithBatchInFlight = true;
          server.child.kill('SIGKILL');
          killedAt = performance.now();
          up = restart().then(() => void (restartMs = performance.now() - killedAt));
        }
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`;

    server = await startChild(db, receiverUrl);
    let up: Promise<void> = Promise.resolve();
    const acked = new Map<string, LabelValue>();

    async function restart() {
      const dead = server.child;
      if (dead.exitCode === null && dead.signalCode === null) await new Promise((r) => dead.once('exit', r));
      server = await startChild(db, receiverUrl);
    }

    const t0 = performance.now();
    // A post whose connection dies with the server goes again once it is back.
    const lostToKill = await postLabelsThroughRestarts({
      task: 'f',
      work,
      clients: CLIENTS,
      url: () => server.url,
      ready: () => up,
      onAck: (item) => {
        acked.set(tallyKey('f', item.image, item.rater), item.value);
        if (acked.size >= KILL_AFTER_ACKS) killRequested = true;
      },
    });
    const sendMs = performance.now() - t0;

    // Wait for the forwarder to finish: the receiver has everything and the outbox is empty.
    const watch = new LabelStore(db);
    const deadline = Date.now() + 30_000;
    while (
      (Object.keys(tally.labels).length < work.length || watch.pendingCount() > 0) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    watch.close();
    server.child.kill('SIGKILL');
    await new Promise((r) => server.child.once('exit', r));
    receiver.close();

    try {
      assert.ok(killedWithBatchInFlight, 'the kill happened with a forwarded batch unacknowledged');
      assert.equal(acked.size, work.length, 'every label was eventually acknowledged');
      const store = new LabelStore(db);
      try {
        const stored = store.labels('f');
        assert.equal(stored.length, work.length, 'each acknowledged label stored exactly once');
        const storedMap = new Map(stored.map((l) => [tallyKey(l.task, l.image, l.rater), l.value]));
        for (const [key, value] of acked) assert.equal(storedMap.get(key), value, key);
        assert.equal(store.pendingCount(), 0, 'the outbox drained');
      } finally {
        store.close();
      }
      assert.equal(applied, work.length, 'the receiver counted each label event once');
      assert.deepEqual(new Map(Object.entries(tally.labels)), acked);
      assert.ok(redelivered > 0, 'the unacknowledged batch really was sent again');
      console.log(
        `fault test: ${work.length} labels from ${CLIENTS} clients in ${(sendMs / 1000).toFixed(1)} s ` +
          `(${Math.round(work.length / (sendMs / 1000))}/s, incl. a ${(restartMs / 1000).toFixed(1)} s restart), ${lostToKill} requests lost ` +
          `to the kill and re-sent, ${redelivered} events re-delivered and dropped by the receiver`,
      );
    } finally {
      cleanup();
    }
  },
);
