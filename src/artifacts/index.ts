import path from 'node:path';
import { StageCache } from './cache';
import { LocalArtifactStore } from './local';

export type { ArtifactRef, ArtifactStore, DirManifest, StageResult } from './types';
export { DIR_MANIFEST_MEDIA_TYPE } from './types';
export { LocalArtifactStore } from './local';
export { StageCache } from './cache';

/** The store and cache index of a state folder (`<state>/artifacts`, `<state>/cache`). */
export function openArtifacts(stateDir: string): { store: LocalArtifactStore; cache: StageCache } {
  const store = new LocalArtifactStore(path.join(stateDir, 'artifacts'));
  return { store, cache: new StageCache(path.join(stateDir, 'cache'), store) };
}
