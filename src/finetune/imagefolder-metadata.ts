/**
 * The index of a Hugging Face `imagefolder` (metadata.jsonl: file_name, text), checked without
 * decoding any image, so `validate` can check a D_pre folder cheaply.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** A user-visible problem with an imagefolder; one sentence naming the file (and line). */
export class ImageFolderError extends Error {
  override name = 'ImageFolderError';
}

export interface ImageFolderEntry {
  /** Absolute path of the image. */
  file: string;
  text: string;
}

/**
 * The folder's entries, checked without decoding images: the folder and metadata.jsonl exist,
 * every line is a JSON object with string `file_name` and `text`, every image exists, and there
 * is at least one.
 */
export function readImageFolder(dir: string): ImageFolderEntry[] {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new ImageFolderError(
      `Pretraining data folder ${root} does not exist; point pretrain_data.path at an imagefolder.`,
    );
  }
  const meta = join(root, 'metadata.jsonl');
  if (!existsSync(meta)) {
    throw new ImageFolderError(
      `${meta} is missing; an imagefolder lists its images there, one JSON line each: {"file_name": "0001.png", "text": "a caption"}.`,
    );
  }
  const entries: ImageFolderEntry[] = [];
  const lines = readFileSync(meta, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${meta}:${i + 1}`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new ImageFolderError(
        `${where} is not valid JSON; write one object per line, like {"file_name": "0001.png", "text": "a caption"}.`,
      );
    }
    const r = row as Record<string, unknown>;
    if (
      typeof row !== 'object' ||
      row === null ||
      typeof r.file_name !== 'string' ||
      typeof r.text !== 'string'
    ) {
      throw new ImageFolderError(`${where} needs a string "file_name" and a string "text" (the caption).`);
    }
    const file = resolve(root, r.file_name);
    if (!file.startsWith(root + '/')) {
      throw new ImageFolderError(
        `${where}: file_name "${r.file_name}" points outside the folder; name a file inside it.`,
      );
    }
    if (!existsSync(file)) {
      throw new ImageFolderError(
        `${where}: image "${r.file_name}" does not exist in ${root}; add it or drop the line.`,
      );
    }
    entries.push({ file, text: r.text });
  });
  if (entries.length === 0) {
    throw new ImageFolderError(
      `${meta} lists no images; add a line per image, like {"file_name": "0001.png", "text": "a caption"}.`,
    );
  }
  return entries;
}
