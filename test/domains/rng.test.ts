import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRng, hashString } from '../../src/util/rng';

test('the same seed gives the same stream, different seeds differ', () => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const sa = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(
    sa,
    Array.from({ length: 5 }, () => b.next()),
  );
  assert.notDeepEqual(
    sa,
    Array.from({ length: 5 }, () => c.next()),
  );
  // A fixed value pins the algorithm, so a change to it (which would silently change every dataset) fails here.
  assert.equal(createRng(1).next(), 0.2860478847287595);
  assert.equal(createRng('alignrun').int(1000000), 225918);
  assert.equal(hashString('abc'), hashString('abc'));
  assert.notEqual(hashString('abc'), hashString('abd'));
});

test('next is uniform in [0, 1) and int covers its range', () => {
  const rng = createRng('uniform');
  const counts = new Array(10).fill(0);
  let sum = 0;
  for (let i = 0; i < 20000; i++) {
    const u = rng.next();
    assert.ok(u >= 0 && u < 1);
    sum += u;
    counts[rng.int(10)]++;
  }
  assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
  for (const n of counts) assert.ok(n > 1800 && n < 2200, `bucket count ${n}`);
  assert.throws(() => rng.int(0), /positive integer/);
});

test('normal has mean 0 and variance 1', () => {
  const rng = createRng(7);
  let s = 0;
  let s2 = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const z = rng.normal();
    s += z;
    s2 += z * z;
  }
  assert.ok(Math.abs(s / n) < 0.03);
  assert.ok(Math.abs(s2 / n - 1) < 0.04);
});

test('shuffle is a permutation, pick returns members', () => {
  const rng = createRng('shuffle');
  const items = Array.from({ length: 20 }, (_, i) => i);
  const shuffled = rng.shuffle([...items]);
  assert.notDeepEqual(shuffled, items);
  assert.deepEqual(
    [...shuffled].sort((x, y) => x - y),
    items,
  );
  for (let i = 0; i < 50; i++) assert.ok(items.includes(rng.pick(items)));
  assert.throws(() => rng.pick([]), /non-empty/);
});

test('fork depends on seed and label, not on draws made', () => {
  const a = createRng(5);
  const b = createRng(5);
  b.next();
  b.next();
  assert.equal(a.fork('x').next(), b.fork('x').next());
  assert.notEqual(a.fork('x').next(), a.fork('y').next());
  assert.notEqual(a.fork('x').next(), a.next());
});
