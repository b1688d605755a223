// The browser test: a human label task waits in its workflow while a rater opens their
// link in headless Chromium and labels 10 images with the keyboard; the experiment then completes
// with exactly those labels.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startLabelServer } from '../../src/labels/server';
import { LabelStore } from '../../src/labels/store';
import type { LabelValue } from '../../src/labels/types';
import type { TrialResult } from '../../src/runtime/protocol';
import { chromiumMissing, launchChromium } from '../helpers/browser';
import { publishedTask, readLabels, spec, startHarness, startSpec, type Harness } from './harness';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h?.stop();
});

test(
  'a rater labels 10 images in Chromium and the waiting workflow completes with exactly those labels',
  { skip: chromiumMissing(), timeout: 55_000 },
  async () => {
    const store = new LabelStore(join(h.ts.stateDir, 'labels.db'));
    const server = await startLabelServer({ store });
    const chromium = await launchChromium();
    try {
      const run = await startSpec(
        h,
        spec(`    kind: label
    images: generate
    quorum: 1
    source: { type: human, deadline: 1h }`),
        'label-browser',
      );
      const task = await publishedTask(store, run.task, run);
      assert.equal(task.status, 'open');
      assert.equal(store.taskImages(run.task).length, 10);
      // The rater joins after the task was published: the bridge registers them with the workflow.
      const { token } = store.addRater('alice');

      const page = await chromium.context.newPage();
      await page.goto(`${server.url}/?token=${token}`);
      await page.waitForSelector('body[data-state="ready"]');
      const expected = new Map<string, LabelValue>();
      const press = async (key: string, value: LabelValue | 'undo', done: number) => {
        const image = (await page.getAttribute('#image', 'data-image-id'))!;
        await page.keyboard.press(key);
        // Saved, and the next image shown (globalThis: no DOM types in this project).
        await page.waitForFunction((n) => {
          const doc = (globalThis as any).document;
          return (
            doc.body.dataset.state !== 'busy' &&
            doc.getElementById('my-progress-text').textContent.startsWith(`${n} /`)
          );
        }, done);
        if (value !== 'undo') expected.set(image, value);
      };
      const keys: [string, LabelValue][] = [
        ['g', 'good'],
        ['b', 'bad'],
        ['ArrowRight', 'good'],
        ['ArrowLeft', 'bad'],
        ['g', 'good'],
        ['g', 'good'],
        ['b', 'bad'],
      ];
      for (const [i, [key, value]] of keys.entries()) await press(key, value, i + 1);
      // Undo the seventh answer and give that image the other one.
      const undone = [...expected.keys()].at(-1)!;
      await press('u', 'undo', 6);
      expected.delete(undone);
      assert.equal(await page.getAttribute('#image', 'data-image-id'), undone);
      await press('g', 'good', 7);
      await press('b', 'bad', 8);
      await press('ArrowRight', 'good', 9);
      await press('b', 'bad', 10);
      assert.equal(expected.size, 10);

      // Every image has its one label: the labelling workflow closes and the stage returns.
      const result = (await run.handle.result()) as TrialResult;
      const records = await readLabels(h, result);
      assert.deepEqual(
        new Map(records.map((r) => [r.image, r.raters])),
        new Map([...expected].map(([image, v]) => [image, { alice: v }])),
      );
      for (const r of records) assert.equal(r.label, r.raters.alice === 'good' ? 1 : 0);
      const good = [...expected.values()].filter((v) => v === 'good').length;
      assert.equal(result.stages.label.metrics.labelled, 10);
      assert.equal(result.stages.label.metrics.positive_rate, good / 10);
      assert.equal(result.stages.label.metrics.agreement, undefined, 'one rater has no agreement');
      assert.equal(store.getTask(run.task)!.status, 'closed', 'the page takes no more labels');
    } finally {
      await chromium.close();
      await server.close();
      store.close();
    }
  },
);
