import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePrompt, renderPrompt, type ObjectColor } from '../../src/domains/shapes';
import { imageToPng } from '../../src/model/images';
import {
  importLabels,
  parseLabelFile,
  shapesAligned,
  simulateLabels,
  simulatedLabel,
} from '../../src/labels/sources';
import type { LabelStore } from '../../src/labels/store';
import type { TaskImageInput } from '../../src/labels/types';
import { taskOf, tempStore } from './fixtures';

/**
 * Renders n real shapes images. Odd ones are shown with a prompt of another colour, so the
 * judge should call exactly the even ones aligned.
 */
async function shapesTask(store: LabelStore, dir: string, n: number): Promise<boolean[]> {
  const colors: ObjectColor[] = ['red', 'green', 'blue', 'yellow'];
  const images: TaskImageInput[] = [];
  const truth: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const color = colors[i % 4];
    const drawn = makePrompt({ shape: 'circle', count: (i % 3) + 1, color })!;
    const shown =
      i % 2 ? makePrompt({ shape: 'circle', count: (i % 3) + 1, color: colors[(i + 1) % 4] })! : drawn;
    const path = join(dir, `s-${i}.png`);
    writeFileSync(path, await imageToPng(renderPrompt(drawn, { seed: i })));
    images.push({ id: `s-${i}`, prompt: shown.text, path, category: 'color' });
    truth.push(i % 2 === 0);
  }
  store.publishTask({ id: 'shapes', experiment: 'e', title: 'Shapes', images });
  return truth;
}

test('simulated raters follow the shapes judge; noise flips, bias leans, all deterministic by seed', async () => {
  const { store, dir, cleanup } = tempStore();
  try {
    const truth = await shapesTask(store, dir, 12);
    const result = await simulateLabels({
      store,
      task: 'shapes',
      seed: 7,
      raters: [{ name: 'exact' }, { name: 'yes-sayer', bias: 1 }, { name: 'contrarian', noise: 1 }],
    });
    assert.equal(result.labels, 36);
    const byRater = (name: string) => {
      const id = store.findRater(name)!.id;
      return store
        .labels('shapes')
        .filter((l) => l.rater === id)
        .sort((a, b) => Number(a.image.slice(2)) - Number(b.image.slice(2)))
        .map((l) => l.value);
    };
    assert.deepEqual(
      byRater('exact'),
      truth.map((t) => (t ? 'good' : 'bad')),
    );
    assert.deepEqual(byRater('yes-sayer'), Array(12).fill('good'));
    assert.deepEqual(
      byRater('contrarian'),
      truth.map((t) => (t ? 'bad' : 'good')),
    );
    // Simulated raters cannot log in: no token was ever shown for them.
    assert.equal(store.findRater('exact')!.revoked, false);
  } finally {
    cleanup();
  }
});

test('simulatedLabel: noise rate and bias are what they say, and the seed decides', () => {
  const n = 4000;
  const noisy = { name: 'n', noise: 0.2 };
  const flips = Array.from({ length: n }, (_, i) => simulatedLabel(true, noisy, 1, `img-${i}`)).filter(
    (v) => v === 'bad',
  ).length;
  assert.ok(Math.abs(flips / n - 0.2) < 0.025, `flip rate ${flips / n}`);
  const leaning = { name: 'l', bias: 0.5 };
  const goods = Array.from({ length: n }, (_, i) => simulatedLabel(false, leaning, 1, `img-${i}`)).filter(
    (v) => v === 'good',
  ).length;
  assert.ok(Math.abs(goods / n - 0.5) < 0.03, `bias rate ${goods / n}`);
  const run = (seed: number) =>
    Array.from({ length: 50 }, (_, i) => simulatedLabel(true, noisy, seed, `i${i}`)).join();
  assert.equal(run(3), run(3));
  assert.notEqual(run(3), run(4));
  assert.equal(simulatedLabel(null, noisy, 1, 'x'), 'skip', 'a prompt outside the domain is skipped');
  assert.equal(
    shapesAligned(renderPrompt(makePrompt({ shape: 'square', count: 2 })!, { seed: 1 }), 'hello'),
    null,
  );
});

test("import's format, when given, decides over the file name", () => {
  const rows = parseLabelFile('labels.txt', '{"image":"img-0","rater":"ann","value":"good"}\n', 'jsonl');
  assert.deepEqual(rows, [{ image: 'img-0', rater: 'ann', value: 'good', line: 1 }]);
  // A CSV export that happens to be named .jsonl, declared csv in the spec.
  assert.equal(parseLabelFile('export.jsonl', 'img-0,ann,good\nimg-1,ann,bad\n', 'csv').length, 2);
  assert.throws(() => parseLabelFile('export.jsonl', 'img-0,ann,good\n'), /export\.jsonl:1: not valid JSON/);
});

test('bad simulated rater settings are refused with one sentence', async () => {
  const { store, cleanup } = tempStore();
  try {
    store.publishTask(taskOf('t', 1));
    await assert.rejects(
      simulateLabels({ store, task: 't', seed: 1, raters: [{ name: 'x', noise: 1.5 }] }),
      /noise must be between 0 and 1/,
    );
    assert.equal(store.labels('t').length, 0);
  } finally {
    cleanup();
  }
});

test('import from CSV and JSONL stores every row; bad rows are reported as file:line and nothing is stored', () => {
  const { store, dir, cleanup } = tempStore();
  try {
    store.publishTask(taskOf('t', 3));
    const csv = join(dir, 'labels.csv');
    writeFileSync(csv, 'image,rater,value\nimg-0,ann,good\n"img-1",ann,bad\n\nimg-0,bob,skip\n');
    assert.deepEqual(importLabels(store, 't', csv), { imported: 3, raters: ['ann', 'bob'] });
    const jsonl = join(dir, 'more.jsonl');
    writeFileSync(
      jsonl,
      '{"image":"img-2","rater":"cat","value":"good"}\n{"image":"img-2","rater":"ann","value":"bad"}\n',
    );
    assert.equal(importLabels(store, 't', jsonl).imported, 2);
    assert.equal(store.labels('t').length, 5);

    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, 'img-0,dan,good\nimg-1,dan,great\nimg-2,dan\nimg-9,dan,bad\n');
    assert.throws(
      () => importLabels(store, 't', bad),
      (e: Error) =>
        e.message.includes(`${bad}:2: value 'great' is not one of good, bad, skip.`) &&
        e.message.includes(`${bad}:3: expected 3 fields`),
    );
    writeFileSync(bad, 'img-0,dan,good\nimg-9,dan,bad\nimg-0,dan,bad\n');
    assert.throws(
      () => importLabels(store, 't', bad),
      (e: Error) =>
        e.message.includes(`${bad}:2: task 't' has no image 'img-9'.`) &&
        e.message.includes(`${bad}:3: rater 'dan' already labelled 'img-0' good on line 1.`),
    );
    const badJson = join(dir, 'bad.jsonl');
    writeFileSync(badJson, '{"image":"img-0","rater":"dan","value":"good","task":"t"}\n{oops\n');
    assert.throws(
      () => parseLabelFile(badJson),
      /bad\.jsonl:1: unknown field 'task'.*\n.*bad\.jsonl:2: not valid JSON/,
    );
    assert.equal(store.labels('t').length, 5, 'a refused file stores nothing');
    assert.equal(store.findRater('dan'), undefined);
  } finally {
    cleanup();
  }
});
