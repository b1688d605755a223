// Artifacts move between stages (and through Temporal payloads) only as these references.

/** A content-addressed blob: its sha256 names it, wherever it is stored. */
export interface ArtifactRef {
  sha256: string;
  size: number;
  mediaType?: string;
}

/** A finished stage instance: what the cache index holds and what workflows pass along. */
export interface StageResult {
  key: string;
  artifacts: Record<string, ArtifactRef>;
  metrics: Record<string, number>;
  /** ISO time the result was recorded. */
  finishedAt: string;
}

/** The manifest that `putDir` stores: relative path -> file ref (JSON, media type below). */
export interface DirManifest {
  files: Record<string, ArtifactRef>;
}
export const DIR_MANIFEST_MEDIA_TYPE = 'application/vnd.alignrun.dir+json';

/**
 * Where artifact bytes live. The local folder is the default; an S3-compatible store implements
 * the same calls (keys `sha256/<hex>`), with `path` materialising a local copy on demand.
 */
export interface ArtifactStore {
  put(data: Uint8Array | string, opts?: { mediaType?: string }): Promise<ArtifactRef>;
  putFile(file: string, opts?: { mediaType?: string }): Promise<ArtifactRef>;
  /** Stores every file below `dir` and a manifest of them; returns the manifest's ref. */
  putDir(dir: string): Promise<ArtifactRef>;
  get(ref: ArtifactRef | string): Promise<Buffer>;
  has(ref: ArtifactRef | string): Promise<boolean>;
  /** A local file path holding the bytes (read-only; do not modify it). */
  path(ref: ArtifactRef | string): Promise<string>;
  /** Recreates a `putDir` folder at `dest`. */
  getDir(ref: ArtifactRef | string, dest: string): Promise<void>;
}
