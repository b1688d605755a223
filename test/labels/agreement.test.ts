import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fleissKappa, krippendorffAlpha, labelAgreement } from '../../src/labels/agreement';
import type { Label } from '../../src/labels/types';

const close = (a: number, b: number, eps = 5e-4) => assert.ok(Math.abs(a - b) < eps, `${a} is not ≈ ${b}`);

test("Fleiss' classic example (10 items, 14 raters, 5 categories) gives kappa ≈ 0.210", () => {
  const counts = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
  ];
  // By hand: P-bar = 0.378, P_e = 0.213, kappa = (0.378 - 0.213) / (1 - 0.213).
  close(fleissKappa(counts), 0.20993, 1e-4);
});

test('Fleiss kappa: perfect agreement is 1, and uneven rows are refused with a hint', () => {
  assert.equal(
    fleissKappa([
      [3, 0],
      [0, 3],
    ]),
    1,
  );
  assert.throws(
    () =>
      fleissKappa([
        [3, 0],
        [1, 1],
      ]),
    /Krippendorff/,
  );
});

test("Krippendorff's alpha, nominal: a hand-computed two-coder case", () => {
  // Units (a,a), (a,b), (b,b): o_aa = 2, o_ab = o_ba = 1, o_bb = 2; n_a = n_b = 3, n = 6.
  // alpha = 1 - (n - 1) * 2 / (2 * 3 * 3) = 1 - 10/18.
  close(
    krippendorffAlpha([
      ['a', 'a'],
      ['a', 'b'],
      ['b', 'b'],
    ]),
    1 - 10 / 18,
    1e-12,
  );
});

test("Krippendorff's alpha, nominal: the reliability-data example with missing values gives 0.743", () => {
  // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers, 12 units.
  const _ = null;
  const observers = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
  ];
  const units = observers[0].map((_v, u) => observers.map((o) => (o[u] === null ? null : String(o[u]))));
  close(krippendorffAlpha(units), 0.743);
});

test('label agreement on good/bad treats skips as missing', () => {
  const l = (image: string, rater: string, value: Label['value']): Label => ({
    task: 't',
    image,
    rater,
    value,
    created: '',
    seq: 0,
  });
  const agree = labelAgreement([
    l('1', 'a', 'good'),
    l('1', 'b', 'good'),
    l('2', 'a', 'bad'),
    l('2', 'b', 'bad'),
    l('3', 'a', 'good'),
    l('3', 'b', 'skip'),
  ]);
  assert.deepEqual(agree, { items: 2, raters: 2, alpha: 1, kappa: 1 });
  const split = labelAgreement([
    l('1', 'a', 'good'),
    l('1', 'b', 'bad'),
    l('2', 'a', 'bad'),
    l('2', 'b', 'good'),
  ]);
  assert.ok(split.alpha < 0 && split.kappa! < 0, 'systematic disagreement is below chance');
});
