// Small builders the label tests share: a fresh store in a temp folder and a task with real PNGs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { LabelStore } from '../../src/labels/store';
import type { TaskInput } from '../../src/labels/types';

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
