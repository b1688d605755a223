// Small builders the label tests share: a fresh store in a temp folder, a task with real PNGs, and
// clients that post labels through a server's crashes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { LabelStore } from '../../src/labels/store';
import type { LabelValue, TaskInput } from '../../src/labels/types';

export function tempDir(prefix = 'alignrun-labels-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function tempStore(): { store: LabelStore; dir: string; cleanup: () => void } {
  const { dir, cleanup } = tempDir();
  const store = new LabelStore(join(dir, 'labels.db'));
  return {
    store,
    dir,
    cleanup: () => {
      if (store.db.open) store.close();
      cleanup();
    },
  };
}

/** A task of n images; the paths need not exist unless `writePngs` renders them. */
export function taskOf(id: string, n: number, dir = '/nonexistent', quorum = 1): TaskInput {
  const colors = ['red', 'green', 'blue', 'yellow'];
  return {
    id,
    experiment: 'exp-test',
    title: `Task ${id}`,
    quorum,
    images: Array.from({ length: n }, (_, i) => ({
      id: `img-${i}`,
      prompt: `${(i % 3) + 1} ${colors[i % 4]} circles on a white background`,
      path: join(dir, `${id}-${i}.png`),
      category: i % 2 ? 'count' : 'color',
      split: 'train',
    })),
  };
}

/** Renders a solid-colour 64x64 PNG for every image of the task so the server has real files to stream. */
export async function writePngs(task: TaskInput): Promise<void> {
  const palette: [number, number, number][] = [
    [220, 40, 40],
    [40, 180, 60],
    [40, 80, 220],
    [230, 200, 40],
  ];
  await Promise.all(
    task.images.map((im, i) => {
      const [r, g, b] = palette[i % palette.length];
      return sharp({ create: { width: 64, height: 64, channels: 3, background: { r, g, b } } })
        .png()
        .toFile(im.path);
    }),
  );
}

/** One label a client posts: the rater's token and id, the image and the value. */
export interface LabelPost {
  token: string;
  rater: string;
  image: string;
  value: LabelValue;
}

/**
 * Posts every label of `work` from `clients` concurrent clients to a label server the test may kill
 * and restart: each post first awaits `ready()` (the server being back) and goes to `url()`. A
 * refused post fails the test; one whose connection dies (no answer, so no ack) goes back on the
 * queue. `onAck` sees each acknowledged label and the number of posts in flight, this one included.
 * Returns how many posts were lost to a dead server.
 */
export async function postLabelsThroughRestarts(o: {
  task: string;
  work: readonly LabelPost[];
  clients: number;
  url: () => string;
  ready: () => Promise<void>;
  onAck: (item: LabelPost, inFlight: number) => void;
}): Promise<number> {
  const queue = [...o.work];
  let next = 0;
  let inFlight = 0;
  let lost = 0;
  const client = async () => {
    for (;;) {
      if (next >= queue.length) {
        if (inFlight === 0) return;
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      const item = queue[next++];
      inFlight += 1;
      try {
        await o.ready();
        const res = await fetch(`${o.url()}/api/labels`, {
          method: 'POST',
          headers: { authorization: `Bearer ${item.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ task: o.task, image: item.image, value: item.value }),
        });
        await res.arrayBuffer();
        assert.equal(res.status, 200, `label refused with ${res.status}`);
        o.onAck(item, inFlight);
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        lost += 1;
        queue.push(item);
      } finally {
        inFlight -= 1;
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, client));
  return lost;
}
