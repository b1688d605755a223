// A rater opens their link in headless Chromium and labels with the keyboard; the store and the
// forwarded events must hold exactly what they pressed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { startForwarder } from '../../src/labels/forwarder';
import { startLabelServer } from '../../src/labels/server';
import { applyLabelEvents, emptyTally, tallyKey } from '../../src/labels/tally';
import type { LabelValue } from '../../src/labels/types';
import { chromiumMissing, launchChromium } from '../helpers/browser';
import { taskOf, tempStore, writePngs } from './fixtures';

const skip = chromiumMissing();

test(
  'a rater labels 10 images with the keyboard; store and forwarder hold exactly those',
  { skip, timeout: 60_000 },
  async () => {
    const { store, dir, cleanup } = tempStore();
    const task = { ...taskOf('shapes-1', 12, dir), title: 'Shapes: colour and count' };
    await writePngs(task);
    store.publishTask(task);
    store.publishTask({ ...taskOf('shapes-2', 4, dir), title: 'Shapes: backgrounds' });
    const { rater, token } = store.addRater('alice');
    const server = await startLabelServer({ store });
    const tally = emptyTally();
    const forwarder = startForwarder({
      store,
      intervalMs: 50,
      send: async (b) => void applyLabelEvents(tally, b),
    });
    const chromium = await launchChromium();
    try {
      const page = await chromium.context.newPage();
      await page.setViewportSize({ width: 1200, height: 900 });
      await page.goto(`${server.url}/?token=${token}`);
      await page.waitForSelector('body[data-state="ready"]');
      assert.equal(new URL(page.url()).search, '', 'the token is taken out of the address bar');
      assert.equal(await page.textContent('#who'), 'Labelling as alice');
      assert.equal(await page.locator('#tasks li').count(), 2);

      const expected = new Map<string, LabelValue>();
      const press = async (key: string, value: LabelValue | 'undo', done: number) => {
        const image = await page.getAttribute('#image', 'data-image-id');
        await page.keyboard.press(key);
        // Wait until the page has saved the label and shown the next image.
        // globalThis: this project's TypeScript has no DOM types (and the page's CSP forbids eval'd strings).
        await page.waitForFunction((n) => {
          const doc = (globalThis as any).document;
          return (
            doc.body.dataset.state !== 'busy' &&
            doc.getElementById('my-progress-text').textContent.startsWith(`${n} /`)
          );
        }, done);
        if (value === 'undo') return;
        expected.set(image!, value);
      };
      const keys: [string, LabelValue][] = [
        ['g', 'good'],
        ['b', 'bad'],
        ['s', 'skip'],
        ['ArrowRight', 'good'],
        ['ArrowLeft', 'bad'],
        ['g', 'good'],
        ['g', 'good'],
        ['b', 'bad'],
        ['s', 'skip'],
      ];
      for (const [i, [key, value]] of keys.entries()) await press(key, value, i + 1);
      // Undo the ninth answer, then answer that image again differently.
      const undone = [...expected.keys()].at(-1)!;
      await press('u', 'undo', 8);
      expected.delete(undone);
      assert.equal(await page.getAttribute('#image', 'data-image-id'), undone, 'the undone image comes back');
      await press('ArrowRight', 'good', 9);
      await press('b', 'bad', 10);

      assert.match((await page.textContent('#status'))!, /Saved: bad/);
      assert.equal(await page.textContent('#my-progress-text'), '10 / 12');
      const shot = join(dir, 'page.png');
      await page.screenshot({ path: process.env.ALIGNRUN_SCREENSHOT ?? shot });
      if (!process.env.ALIGNRUN_SCREENSHOT) assert.ok(statSync(shot).size > 10_000);

      assert.equal(expected.size, 10);
      const stored = store.labels('shapes-1');
      assert.deepEqual(new Map(stored.map((l) => [l.image, l.value])), expected);
      assert.ok(stored.every((l) => l.rater === rater.id));
      await forwarder.flush(5000);
      assert.deepEqual(
        tally.labels,
        Object.fromEntries([...expected].map(([image, v]) => [tallyKey('shapes-1', image, rater.id), v])),
      );

      // Without a token the page says what to do instead of failing silently.
      const stranger = await chromium.context.newPage();
      await stranger.goto(`${server.url}/`);
      await stranger.waitForSelector('body[data-state="error"]');
      assert.match((await stranger.textContent('#status'))!, /personal link/);
    } finally {
      await chromium.close();
      await forwarder.stop();
      await server.close();
      cleanup();
    }
  },
);
