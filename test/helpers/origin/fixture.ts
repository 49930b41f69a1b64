/**
 * What a test says the fake Hub holds: repos, their refs and commits, and the
 * files at each commit. This is the input shape only; `prepareFixture` turns it
 * into hashed, servable blobs.
 */
import { createHash } from 'node:crypto';

export type RepoType = 'model' | 'dataset' | 'space';

/**
 * Where a file's bytes come from.
 * - `string` / `Uint8Array`: small content held in memory.
 * - `{ file }`: an existing file, streamed from disk (use for 256 MiB .. 4 GiB).
 * - `{ size, seed }`: deterministic pseudo-random bytes, generated once into a
 *   temp file shared by every test process (same seed+size = same bytes).
 */
export type FileSource = string | Uint8Array | { file: string } | { size: number; seed?: string };

export interface FixtureFile {
  /** Path inside the repo, `/`-separated, no leading slash. */
  path: string;
  source: FileSource;
  /**
   * Stored with Git LFS (served through a CDN redirect, sha256 etag)?
   * Default: LFS when >= 1 MiB or when the extension is one the Hub's default
   * `.gitattributes` puts in LFS (.safetensors, .bin, .gguf, .onnx, ...).
   */
  lfs?: boolean;
}

export interface FixtureCommit {
  /** The full tree at this commit (not a diff). */
  files: FixtureFile[];
  /** Previous commit; lets paths-info report a file's real `lastCommit`. */
  parent?: string;
  title?: string;
  /** ISO date; defaults to a fixed date so responses are reproducible. */
  date?: string;
}

export interface FixtureRepo {
  repoType?: RepoType;
  /** `org/name`, or a legacy single-segment id like `gpt2`. */
  repoId: string;
  /** `{ main: <commit>, 'v1.0': <commit>, 'refs/pr/1': <commit> }`. Must include `main`. */
  refs: Record<string, string>;
  commits: Record<string, FixtureCommit>;
  /**
   * Gated like the real Hub: metadata stays public, `resolve` needs a token.
   * `true`: the origin's token has been granted access. `'denied'`: the token
   * is valid but not on the authorized list (403).
   */
  gated?: boolean | 'denied';
  /** Invisible without the origin's token (401/404 exactly like a missing repo). */
  private?: boolean;
}

export interface Fixture {
  repos: FixtureRepo[];
}

/** A stable, valid-looking 40-hex commit id derived from any seed string. */
export function fakeCommit(params: { seed: string }): string {
  return createHash('sha1').update(`hubcache-fake-commit\0${params.seed}`).digest('hex');
}

export interface LinearCommit {
  /** Files added or replaced by this commit (the rest carry over from its parent). */
  files?: FixtureFile[];
  /** Paths deleted by this commit. */
  remove?: string[];
  /** Refs pointing at this commit, e.g. `['v1.0']` or `['refs/pr/1']`. */
  refs?: string[];
  title?: string;
}

/**
 * Builds a repo whose commits form one line, each a change on top of the
 * previous one, like ordinary git history. `main` points at the last commit
 * unless some commit names `main` in its refs. Commit ids are `fakeCommit`s
 * of the repo and position, so they are the same in every run.
 */
export function linearRepo(params: {
  repoId: string;
  repoType?: RepoType;
  commits: LinearCommit[];
  gated?: boolean | 'denied';
  private?: boolean;
}): FixtureRepo {
  const repoType = params.repoType ?? 'model';
  const refs: Record<string, string> = {};
  const commits: Record<string, FixtureCommit> = {};
  let tree = new Map<string, FixtureFile>();
  let parent: string | undefined;
  params.commits.forEach((step, index) => {
    tree = new Map(tree);
    for (const path of step.remove ?? []) tree.delete(path);
    for (const file of step.files ?? []) tree.set(file.path, file);
    const id = fakeCommit({ seed: `${repoType}/${params.repoId}#${index}` });
    commits[id] = {
      files: [...tree.values()],
      parent,
      title: step.title ?? `Commit ${index + 1}`,
      date: new Date(Date.UTC(2024, 0, 1 + index)).toISOString(),
    };
    for (const ref of step.refs ?? []) refs[ref] = id;
    parent = id;
  });
  if (parent === undefined) throw new Error(`linearRepo ${params.repoId}: needs at least one commit`);
  refs.main ??= parent;
  return { repoType, repoId: params.repoId, refs, commits, gated: params.gated, private: params.private };
}
