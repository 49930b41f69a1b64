/** What every step of `checkCompose` after the volume search reads, and how it reports. */
import type { Manifest } from '../manifest/manifest.js';
import type { ComposeFinding } from './composeFinding.js';
import type { CacheVolume } from './findCacheVolume.js';
import type { HfView } from './hfView.js';
import type { ComposeFile, ComposeMount, ComposePosition, ComposeService } from './parseComposeFile.js';

/** A finding as a step adds it: its position as one value. */
export type FindingInput = Omit<ComposeFinding, 'file' | 'line' | 'column'> & { at: ComposePosition };

/** A service that mounts the cache volume. */
export interface CacheUser {
  service: ComposeService;
  mount: ComposeMount;
  view: HfView;
}

export interface ComposeCheckContext {
  compose: ComposeFile;
  manifest: Manifest | undefined;
  views: Map<string, HfView>;
  volume: CacheVolume;
  users: CacheUser[];
  /** Where most users mount the volume (ties: the manifest's hf_home). */
  targetOf: string | undefined;
  add: (finding: FindingInput) => void;
}
