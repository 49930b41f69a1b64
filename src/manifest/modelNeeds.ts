/**
 * The one answer to "what does this manifest entry need, and what of it is
 * not in the snapshot yet", for the real run and the dry run alike: they
 * differ only in where the repo's file list comes from (the download's own
 * listing, the Hub's listing, or nothing when offline) and in what they do
 * with the answer (fetch it, or say it would).
 */
import { filterByGlobs } from '../download/matchGlobs.js';
import type { ManifestModel } from './manifest.js';

export interface WantedFile {
  path: string;
  size: number | undefined;
}

export interface ModelNeeds {
  /** The files the entry selects. */
  wanted: WantedFile[];
  /** Wanted files the snapshot does not hold (as a resolving file). */
  absent: WantedFile[];
  /** What the selection could not find, in words (a listed file the repo lacks, globs matching nothing). */
  unmatched: string[];
}

export function modelNeeds(params: {
  model: ManifestModel;
  /** The repo's files at the commit, when known; undefined offline (the snapshot is then all we know). */
  listing: WantedFile[] | undefined;
  /** Relative paths of the files the snapshot holds. */
  present: string[];
}): ModelNeeds {
  const { model, listing } = params;
  const sizes = new Map((listing ?? []).map((f) => [f.path, f.size]));
  const unmatched: string[] = [];
  let wanted: WantedFile[];
  if (model.files) {
    const known = listing ? model.files.filter((f) => sizes.has(f)) : model.files;
    if (listing) unmatched.push(...model.files.filter((f) => !sizes.has(f)).map((f) => `${f} (not in the repo at ${model.revision})`));
    wanted = known.map((path) => ({ path, size: sizes.get(path) }));
  } else {
    const candidates = listing ? listing.map((f) => f.path) : params.present;
    wanted = filterByGlobs({ paths: candidates, ...(model.include ? { include: model.include } : {}), ...(model.exclude ? { exclude: model.exclude } : {}) }).map((path) => ({
      path,
      size: sizes.get(path),
    }));
    if (wanted.length === 0) unmatched.push(`no ${listing ? 'file of the repo' : 'cached file'} matches ${describeGlobs(model)}`);
  }
  const present = new Set(params.present);
  return { wanted, absent: wanted.filter((f) => !present.has(f.path)), unmatched };
}

function describeGlobs(model: ManifestModel): string {
  const parts: string[] = [];
  if (model.include) parts.push(`include ${model.include.join(', ')}`);
  if (model.exclude) parts.push(`exclude ${model.exclude.join(', ')}`);
  return parts.length > 0 ? parts.join('; ') : 'the repo';
}
