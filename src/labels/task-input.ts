// Checks a task before it is published, and compares a re-published task with the stored one.
import { LabelError, type TaskImage, type TaskInfo, type TaskInput } from './types';

export interface CheckedTask {
  id: string;
  experiment: string;
  title: string;
  quorum: number;
  images: { id: string; prompt: string; path: string; category: string | null; split: string | null }[];
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new LabelError('invalid', `${what} must be a non-empty string.`);
  }
  return value;
}

function optionalText(value: unknown, what: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new LabelError('invalid', `${what} must be a string when given.`);
  return value;
}

/** Ids show up in URLs and file names, so they are restricted to a safe alphabet. */
export function checkTaskInput(input: TaskInput, idPattern: RegExp): CheckedTask {
  const id = text(input?.id, 'Task id');
  if (!idPattern.test(id)) {
    throw new LabelError(
      'invalid',
      `Task id '${id}' may use only letters, digits, '_', '.', ':' and '-' (max 128).`,
    );
  }
  const quorum = input.quorum ?? 1;
  if (!Number.isInteger(quorum) || quorum < 1) {
    throw new LabelError(
      'invalid',
      `Task '${id}': quorum must be a whole number of at least 1, got ${quorum}.`,
    );
  }
  if (!Array.isArray(input.images) || input.images.length === 0) {
    throw new LabelError('invalid', `Task '${id}' must have at least one image.`);
  }
  const seen = new Set<string>();
  const images = input.images.map((im, i) => {
    const where = `Task '${id}', image ${i + 1}`;
    const imageId = text(im?.id, `${where}: id`);
    if (!idPattern.test(imageId)) {
      throw new LabelError(
        'invalid',
        `${where}: id '${imageId}' may use only letters, digits, '_', '.', ':' and '-'.`,
      );
    }
    if (seen.has(imageId)) throw new LabelError('invalid', `${where}: id '${imageId}' appears twice.`);
    seen.add(imageId);
    return {
      id: imageId,
      prompt: text(im.prompt, `${where}: prompt`),
      path: text(im.path, `${where}: path`),
      category: optionalText(im.category, `${where}: category`),
      split: optionalText(im.split, `${where}: split`),
    };
  });
  return {
    id,
    experiment: text(input.experiment, `Task '${id}': experiment`),
    title: text(input.title, `Task '${id}': title`),
    quorum,
    images,
  };
}

export function sameTask(stored: TaskInfo, storedImages: TaskImage[], task: CheckedTask): boolean {
  if (stored.experiment !== task.experiment || stored.title !== task.title || stored.quorum !== task.quorum) {
    return false;
  }
  if (storedImages.length !== task.images.length) return false;
  return storedImages.every((s, i) => {
    const t = task.images[i];
    return (
      s.id === t.id &&
      s.prompt === t.prompt &&
      s.path === t.path &&
      s.category === t.category &&
      s.split === t.split
    );
  });
}
