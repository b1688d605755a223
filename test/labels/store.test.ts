import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LabelStore, hashToken } from '../../src/labels/store';
import { LabelError } from '../../src/labels/types';
import { taskOf, tempStore } from './fixtures';

const code = (c: string) => (e: unknown) => e instanceof LabelError && e.code === c;

test('publish is idempotent for the same task and refuses a different one under the same id', () => {
  const { store, cleanup } = tempStore();
  try {
    const t = store.publishTask(taskOf('t1', 3));
    assert.equal(t.status, 'open');
    assert.equal(t.quorum, 1);
    assert.deepEqual(store.publishTask(taskOf('t1', 3)), t);
    assert.throws(() => store.publishTask(taskOf('t1', 4)), code('conflict'));
    assert.throws(() => store.publishTask({ ...taskOf('t2', 1), id: '../etc' }), code('invalid'));
    assert.throws(() => store.publishTask({ ...taskOf('t2', 1), quorum: 0 }), code('invalid'));
    assert.throws(() => store.publishTask({ ...taskOf('t2', 0) }), code('invalid'));
    assert.deepEqual(
      store.openTasks().map((x) => x.id),
      ['t1'],
    );
    assert.equal(store.taskImages('t1').length, 3);
  } finally {
    cleanup();
  }
});

test('raters: the token is returned once and only its hash is stored; revoke marks the rater', () => {
  const { store, cleanup } = tempStore();
  try {
    const { rater, token } = store.addRater('alice');
    assert.ok(token.length >= 32);
    const row = store.db.prepare('SELECT * FROM raters WHERE id = ?').get(rater.id) as Record<
      string,
      unknown
    >;
    assert.equal(row.token_hash, hashToken(token));
    assert.ok(!JSON.stringify(row).includes(token), 'the token itself must not be stored');
    assert.equal(store.raterForToken(token)?.id, rater.id);
    assert.equal(store.raterForToken(token + 'x'), undefined);
    assert.throws(() => store.addRater('alice'), code('conflict'));
    assert.throws(() => store.addRater('bad name'), code('invalid'));
    store.revokeRater('alice');
    assert.equal(store.raterForToken(token)?.revoked, true);
    assert.deepEqual(
      store.listRaters().map((r) => [r.name, r.revoked]),
      [['alice', true]],
    );
    assert.throws(() => store.revokeRater('nobody'), code('not_found'));
  } finally {
    cleanup();
  }
});

test('labels: re-labelling replaces idempotently, undo removes the last, events follow every change', () => {
  const { store, cleanup } = tempStore();
  try {
    store.publishTask(taskOf('t', 3));
    const a = store.addRater('a').rater.id;
    const b = store.addRater('b').rater.id;
    assert.equal(store.recordLabel({ task: 't', image: 'img-0', rater: a, value: 'good' }).changed, true);
    assert.equal(store.recordLabel({ task: 't', image: 'img-0', rater: a, value: 'good' }).changed, false);
    assert.equal(store.recordLabel({ task: 't', image: 'img-1', rater: a, value: 'bad' }).changed, true);
    store.recordLabel({ task: 't', image: 'img-0', rater: b, value: 'bad' });
    // Changing img-0 makes it a's latest answer, so undo takes it back rather than img-1.
    store.recordLabel({ task: 't', image: 'img-0', rater: a, value: 'bad' });
    assert.equal(store.labels('t').length, 3);
    assert.equal(store.undoLast(a, 't')?.image, 'img-0');
    assert.deepEqual(
      store.labels('t').map((l) => [l.image, l.rater, l.value]),
      [
        ['img-1', a, 'bad'],
        ['img-0', b, 'bad'],
      ],
    );
    assert.equal(store.undoLast(a, 't')?.image, 'img-1');
    assert.equal(store.undoLast(a, 't'), undefined);
    const events = store.pendingEvents(100);
    assert.deepEqual(
      events.map((e) => [e.kind, e.image, e.rater === a ? 'a' : 'b', e.value]),
      [
        ['label', 'img-0', 'a', 'good'],
        ['label', 'img-1', 'a', 'bad'],
        ['label', 'img-0', 'b', 'bad'],
        ['label', 'img-0', 'a', 'bad'],
        ['retract', 'img-0', 'a', null],
        ['retract', 'img-1', 'a', null],
      ],
    );
    assert.equal(new Set(events.map((e) => e.id)).size, events.length);
    store.ackEvents(events.slice(0, 4));
    assert.deepEqual(
      store.pendingEvents(100).map((e) => e.id),
      events.slice(4).map((e) => e.id),
    );
  } finally {
    cleanup();
  }
});

test('labels are refused for unknown images, closed tasks, revoked raters and bad values', () => {
  const { store, cleanup } = tempStore();
  try {
    store.publishTask(taskOf('t', 2));
    const a = store.addRater('a').rater.id;
    assert.throws(
      () => store.recordLabel({ task: 't', image: 'nope', rater: a, value: 'good' }),
      code('not_found'),
    );
    assert.throws(
      () => store.recordLabel({ task: 'x', image: 'img-0', rater: a, value: 'good' }),
      code('not_found'),
    );
    assert.throws(
      () => store.recordLabel({ task: 't', image: 'img-0', rater: a, value: 'meh' as never }),
      code('invalid'),
    );
    assert.throws(
      () => store.recordLabel({ task: 't', image: 'img-0', rater: 'a', value: 'good' }),
      code('not_found'),
    );
    store.recordLabel({ task: 't', image: 'img-0', rater: a, value: 'good' });
    store.revokeRater('a');
    assert.throws(
      () => store.recordLabel({ task: 't', image: 'img-1', rater: a, value: 'good' }),
      code('forbidden'),
    );
    const b = store.addRater('b').rater.id;
    store.closeTask('t');
    assert.throws(
      () => store.recordLabel({ task: 't', image: 'img-1', rater: b, value: 'good' }),
      code('closed'),
    );
    assert.equal(store.openTasks().length, 0);
    // Refusals never lose what was accepted.
    assert.equal(store.labels('t').length, 1);
    assert.throws(
      () =>
        store.recordLabels([
          { task: 'x', image: 'img-1', rater: b, value: 'good' },
          { task: 'nope', image: 'img-1', rater: b, value: 'good' },
        ]),
      code('not_found'),
    );
    assert.equal(store.labels('t').length, 1);
  } finally {
    cleanup();
  }
});

test('progress counts good/bad toward quorum, and next image prefers images short of quorum', () => {
  const { store, cleanup } = tempStore();
  try {
    store.publishTask(taskOf('t', 4, '/x', 2));
    const [a, b, c] = ['a', 'b', 'c'].map((n) => store.addRater(n).rater.id);
    assert.equal(store.nextImageFor(a, 't')?.id, 'img-0');
    store.recordLabel({ task: 't', image: 'img-0', rater: a, value: 'good' });
    store.recordLabel({ task: 't', image: 'img-0', rater: b, value: 'bad' });
    store.recordLabel({ task: 't', image: 'img-1', rater: a, value: 'skip' });
    store.recordLabel({ task: 't', image: 'img-1', rater: b, value: 'good' });
    const p = store.progress('t');
    assert.equal(p.total, 4);
    assert.equal(p.complete, 1, 'a skip does not count toward quorum');
    assert.equal(p.quorum, 2);
    assert.deepEqual(
      p.perRater.map((r) => [r.name, r.labelled]),
      [
        ['a', 2],
        ['b', 2],
      ],
    );
    // c: img-0 already has quorum, so images 1..3 come first, in order.
    assert.equal(store.nextImageFor(c, 't')?.id, 'img-1');
    for (const im of ['img-1', 'img-2', 'img-3'])
      store.recordLabel({ task: 't', image: im, rater: c, value: 'good' });
    assert.equal(store.nextImageFor(c, 't')?.id, 'img-0');
    store.recordLabel({ task: 't', image: 'img-0', rater: c, value: 'bad' });
    assert.equal(store.nextImageFor(c, 't'), undefined);
  } finally {
    cleanup();
  }
});

test('exportJsonl writes one labelled image per line with its metadata', () => {
  const { store, cleanup } = tempStore();
  try {
    store.publishTask(taskOf('t', 2));
    const a = store.addRater('a').rater.id;
    store.recordLabel({ task: 't', image: 'img-1', rater: a, value: 'bad' });
    store.recordLabel({ task: 't', image: 'img-0', rater: a, value: 'good' });
    const lines = store
      .exportJsonl('t')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.deepEqual(
      lines.map((l) => [l.image, l.value, l.rater_name, l.category, l.split]),
      [
        ['img-1', 'bad', 'a', 'count', 'train'],
        ['img-0', 'good', 'a', 'color', 'train'],
      ],
    );
    assert.match(lines[0].prompt, /circles/);
  } finally {
    cleanup();
  }
});

test('an acknowledged label survives reopening the file, and event ids stay the same', () => {
  const { store, dir, cleanup } = tempStore();
  try {
    store.publishTask(taskOf('t', 1));
    const a = store.addRater('a').rater.id;
    store.recordLabel({ task: 't', image: 'img-0', rater: a, value: 'good' });
    const ids = store.pendingEvents(10).map((e) => e.id);
    assert.equal(store.db.pragma('synchronous', { simple: true }), 2, 'synchronous = FULL');
    assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
    store.close();
    const again = new LabelStore(join(dir, 'labels.db'));
    try {
      assert.equal(again.labels('t').length, 1);
      assert.deepEqual(
        again.pendingEvents(10).map((e) => e.id),
        ids,
      );
    } finally {
      again.close();
    }
  } finally {
    cleanup();
  }
});
