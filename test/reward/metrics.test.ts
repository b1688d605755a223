import assert from 'node:assert/strict';
import { test } from 'node:test';
import { separation, separationByGroup } from '../../src/reward/metrics';

test('separation: accuracy, AUC, mean score and the share labelled good, by hand', () => {
  const s = separation([0.9, 0.2, 0.6, 0.1], [1, 0, 0, 1]);
  // threshold 0.5: right on 0.9 (good) and 0.2 (bad), wrong on 0.6 and 0.1 -> 2/4.
  assert.equal(s.accuracy, 0.5);
  // good {0.9, 0.1} vs bad {0.2, 0.6}: 0.9 beats both, 0.1 beats neither -> 2/4.
  assert.equal(s.auc, 0.5);
  assert.ok(Math.abs(s.meanScore - 0.45) < 1e-12);
  assert.equal(s.goodShare, 0.5);
});

test('a shift of every score moves accuracy and the mean score but not AUC', () => {
  // The signature of a reward that learnt to call a whole split bad: the ranking is unchanged.
  const labels = [1, 0, 0, 0, 1, 0, 0, 0];
  const scores = [0.7, 0.6, 0.55, 0.3, 0.52, 0.8, 0.2, 0.65];
  const shifted = scores.map((v) => v - 0.4);
  const a = separation(scores, labels);
  const b = separation(shifted, labels);
  assert.equal(a.auc, b.auc);
  assert.ok(b.accuracy > a.accuracy);
  assert.equal(b.accuracy, 1 - b.goodShare, 'every example called bad');
  assert.ok(Math.abs(a.meanScore - b.meanScore - 0.4) < 1e-12);
});

test('separationByGroup reports each group with the same fields', () => {
  const r = separationByGroup([0.9, 0.1, 0.8, 0.3], [1, 0, 0, 1], {
    split: ['seen', 'seen', 'unseen', 'unseen'],
  });
  assert.equal(r.split.seen.accuracy, 1);
  assert.equal(r.split.unseen.goodShare, 0.5);
  assert.ok(Math.abs(r.split.unseen.meanScore - 0.55) < 1e-12);
});
