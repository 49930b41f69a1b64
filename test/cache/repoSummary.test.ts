/**
 * The addon's summary scan (native/repoSummary.c) answers for usual repos and
 * declines every other one; where it answers, the scan must be the JavaScript
 * walk's to the last number and warning, and each odd shape must be declined
 * (the walk words its warnings).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildSyntheticCache } from '../../bench/syntheticCache.js';
import { nativeRepoSummaries, nativeSummarizeRepos } from '../../src/cache/repoSummaries.js';
import { scanCache } from '../../src/cache/scanCache.js';
import { oddCache } from '../helpers/oddCache.js';
import { makeTempDir } from '../helpers/tempDir.js';

const DIST_SCAN = fileURLToPath(new URL('../../dist/cache/scanCache.js', import.meta.url));

/** Each repo of the cache: a synthetic repo changed one way; `true` when the addon must answer for it. */
const SHAPES: Record<string, { answered: boolean; change: (repo: Repo) => void }> = {
  plain: { answered: true, change: () => undefined },
  partials: {
    answered: true,
    change: (r) => {
      r.blob(`${'4'.repeat(64)}.abc123.incomplete`, 'partial');
      r.blob(`${'5'.repeat(64)}.downloadInProgress`, 'llama partial');
      // A partial download is one whatever its kind (readRepoBlobs): a folder too.
      mkdirSync(join(r.dir, 'blobs', `${'6'.repeat(64)}.x.incomplete`));
    },
  },
  'nested and padded refs': {
    answered: true,
    change: (r) => {
      mkdirSync(join(r.dir, 'refs', 'refs', 'pr'), { recursive: true });
      writeFileSync(join(r.dir, 'refs', 'refs', 'pr', '1'), `${r.commits[0]}\n`);
      writeFileSync(join(r.dir, 'refs', 'v1.0'), ` \t${r.commits[0]}\r\n`);
      writeFileSync(join(r.dir, 'refs', '.DS_Store'), 'finder');
    },
  },
  'ref to a missing snapshot': { answered: true, change: (r) => writeFileSync(join(r.dir, 'refs', 'gone'), 'c'.repeat(40)) },
  'empty revision and orphan blob': {
    answered: true,
    change: (r) => {
      mkdirSync(join(r.dir, 'snapshots', 'd'.repeat(40), 'empty-folder'), { recursive: true });
      r.blob('e'.repeat(64), 'nobody links here');
      writeFileSync(join(r.dir, 'snapshots', r.commits[0]!, '.DS_Store'), 'finder');
    },
  },
  'no refs folder': { answered: true, change: (r) => rmSync(join(r.dir, 'refs'), { recursive: true }) },
  'no blobs or snapshots': {
    answered: true,
    change: (r) => {
      rmSync(join(r.dir, 'blobs'), { recursive: true });
      rmSync(join(r.dir, 'snapshots'), { recursive: true });
    },
  },
  'dangling link': { answered: false, change: (r) => r.link('dangling.bin', `../../blobs/${'9'.repeat(64)}`) },
  'absolute link': { answered: false, change: (r) => r.link('absolute.bin', join(r.dir, 'blobs', r.firstBlob())) },
  'unusual spelling': { answered: false, change: (r) => r.link('dotted.bin', `.././../blobs/${r.firstBlob()}`) },
  'too few ../ in a subfolder': { answered: false, change: (r) => r.link('sub/short.bin', `../../blobs/${r.firstBlob()}`) },
  'link outside': { answered: false, change: (r) => r.link('outside.bin', '../../../../etc/passwd') },
  'copy layout file': { answered: false, change: (r) => writeFileSync(join(r.dir, 'snapshots', r.commits[0]!, 'copied.txt'), 'bytes') },
  'fifo in a snapshot': { answered: false, change: (r) => execFileSync('mkfifo', [join(r.dir, 'snapshots', r.commits[0]!, 'a-fifo')]) },
  'linked blob': { answered: false, change: (r) => symlinkSync(join(r.dir, 'blobs', r.firstBlob()), join(r.dir, 'blobs', '6'.repeat(64))) },
  'folder in blobs': { answered: false, change: (r) => mkdirSync(join(r.dir, 'blobs', 'a-folder')) },
  'linked blobs folder': {
    answered: false,
    change: (r) => {
      renameSync(join(r.dir, 'blobs'), join(r.dir, 'real-blobs'));
      symlinkSync('real-blobs', join(r.dir, 'blobs'));
    },
  },
  'linked refs folder': {
    answered: false,
    change: (r) => {
      renameSync(join(r.dir, 'refs'), join(r.dir, 'real-refs'));
      symlinkSync('real-refs', join(r.dir, 'refs'));
    },
  },
  'ref without a commit': { answered: false, change: (r) => writeFileSync(join(r.dir, 'refs', 'main'), 'not a commit') },
  'ref with a non-breaking space': { answered: false, change: (r) => writeFileSync(join(r.dir, 'refs', 'main'), `\u00a0${r.commits[0]}`) },
  'ref that is a fifo': { answered: false, change: (r) => execFileSync('mkfifo', [join(r.dir, 'refs', 'fifo')]) },
  'stray file in snapshots': { answered: false, change: (r) => writeFileSync(join(r.dir, 'snapshots', 'README'), 'hand-made') },
  'non-commit folder in snapshots': { answered: false, change: (r) => mkdirSync(join(r.dir, 'snapshots', 'main')) },
  'link name not UTF-8': {
    answered: false,
    change: (r) => symlinkSync(`../../blobs/${r.firstBlob()}`, Buffer.concat([Buffer.from(join(r.dir, 'snapshots', r.commits[0]!, 'caf')), Buffer.from([0xe9])])),
  },
};

interface Repo {
  dir: string;
  commits: string[];
  blob(name: string, bytes: string): void;
  link(rel: string, target: string): void;
  firstBlob(): string;
}

function repo(dir: string): Repo {
  const commits = readdirSync(join(dir, 'snapshots')).sort();
  return {
    dir,
    commits,
    blob: (name, bytes) => writeFileSync(join(dir, 'blobs', name), bytes),
    link: (rel, target) => {
      const path = join(dir, 'snapshots', commits[0]!, rel);
      mkdirSync(join(path, '..'), { recursive: true });
      symlinkSync(target, path);
    },
    firstBlob: () => readdirSync(join(dir, 'blobs')).sort()[0]!,
  };
}

describe('summarizeRepos: the addon sums up usual repos, declines the others', () => {
  it('the addon is built with summarizeRepos (else ls silently takes the slower walk)', () => {
    expect(nativeSummarizeRepos()).toBeTypeOf('function');
  });

  it('answers exactly for the usual shapes, and the scan is the JavaScript walk’s either way', async () => {
    const cacheDir = join(await makeTempDir(), 'hub');
    const names = Object.keys(SHAPES);
    buildSyntheticCache({ cacheDir, repos: names.length, revisionsPerRepo: 2, filesPerRevision: 12, changedPerRevision: 1 });
    const dirs = names.map((_, i) => join(cacheDir, `models--bench-org--model-${i}`));
    names.forEach((name, i) => SHAPES[name]!.change(repo(dirs[i]!)));

    const summaries = nativeRepoSummaries({ repoPaths: dirs })!;
    const answered = Object.fromEntries(names.map((name, i) => [name, summaries[i] !== undefined]));
    expect(answered).toEqual(Object.fromEntries(names.map((name) => [name, SHAPES[name]!.answered])));

    const withAddon = await scanCache({ cacheDir, detail: 'summary', threads: 0 });
    const walked = await scanCache({ cacheDir, detail: 'summary', threads: 0, native: false });
    expect(withAddon).toEqual(walked);
    const byName = (name: string) => withAddon.repos.find((r) => r.repoPath === dirs[names.indexOf(name)])!;
    expect(byName('partials').incomplete.files.map((f) => f.kind)).toEqual(['incomplete', 'downloadInProgress', 'incomplete']);
    expect(byName('nested and padded refs').refs).toEqual({ main: byName('nested and padded refs').refs.main, 'refs/pr/1': expect.any(String), 'v1.0': expect.any(String) });
    expect(byName('ref to a missing snapshot').warnings.map((w) => w.code)).toEqual(['ref-missing-snapshot']);
    expect(byName('empty revision and orphan blob').orphanBlobs.count).toBe(1);
    expect(byName('empty revision and orphan blob').revisions).toHaveLength(3);
    expect(byName('no blobs or snapshots').nbFiles).toBe(0);

    // On a worker thread (what the dashboard asks for, to keep its event loop free) the worker takes the
    // addon's summary itself; the built scan (dist/, as the CLI tests use it) gives the same report.
    const script = join(cacheDir, '..', 'scan.mjs');
    writeFileSync(
      script,
      `const { scanCache } = await import(${JSON.stringify(pathToFileURL(DIST_SCAN).href)});
       process.stdout.write(JSON.stringify(await scanCache({ cacheDir: process.argv[2], detail: 'summary', threads: Number(process.argv[3]) })));`,
    );
    const scanInBuild = (threads: number): unknown => JSON.parse(execFileSync(process.execPath, [script, cacheDir, String(threads)]).toString());
    expect(scanInBuild(1)).toEqual(JSON.parse(JSON.stringify(walked)));
    expect(scanInBuild(0)).toEqual(JSON.parse(JSON.stringify(walked)));
  });

  it('the odd cache: the well-formed repos are answered, the odd ones declined, the same scan', async () => {
    const { cacheDir, odd, deep } = await oddCache();
    const dirs = readdirSync(cacheDir)
      .filter((name) => name.includes('--'))
      .map((name) => join(cacheDir, name));
    const summaries = nativeRepoSummaries({ repoPaths: dirs })!;
    dirs.forEach((dir, i) => expect([dir, summaries[i] !== undefined]).toEqual([dir, dir !== odd && dir !== deep]));
    expect(await scanCache({ cacheDir, detail: 'summary', threads: 0 })).toEqual(await scanCache({ cacheDir, detail: 'summary', threads: 0, native: false }));
  });
});
