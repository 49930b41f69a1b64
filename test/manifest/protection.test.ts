/** The manifest protects what its services need from rm/prune/evict (unless --force), and ls shows who uses what. */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { buildCache, fakeCommit } from '../helpers/cacheBuilder.js';
import { makeTempDir } from '../helpers/tempDir.js';
import { runCli } from '../helpers/runCli.js';

const OLD = fakeCommit('llm-old');
const NOW = fakeCommit('llm-now');

describe('manifest protection', () => {
  let dir: string;
  let cacheDir: string;
  const env = { HUBCACHE_MANIFEST: undefined, HF_HOME: undefined, HF_HUB_CACHE: undefined };
  const cli = (args: string[]) => runCli({ args: [...args, '--cache-dir', cacheDir], cwd: dir, env });
  const planned = (res: { json: () => any }) => res.json().plan.revisions.map((r: any) => `${r.repo}@${r.commit}`).sort();

  beforeEach(async () => {
    dir = await makeTempDir();
    cacheDir = join(dir, 'hf', 'hub');
    await buildCache({
      cacheDir,
      repos: [
        {
          repoId: 'org/llm',
          revisions: [
            // The old commit has no ref any more (main moved), but llama-cpp's link still points at it.
            { commit: OLD, files: { 'model.gguf': Buffer.alloc(3000, 1) } },
            { commit: NOW, refs: ['main'], files: { 'model.gguf': Buffer.alloc(3000, 2) } },
          ],
        },
        { repoId: 'org/unused', revisions: [{ refs: ['main'], files: { 'model.bin': Buffer.alloc(5000, 3) } }] },
      ],
    });
    await writeFile(
      join(dir, 'hubcache.yaml'),
      'hf_home: ./hf\nservices:\n  llama-cpp:\n    models:\n      - repo: org/llm\n        files: [model.gguf]\n        link: { name: model.gguf, env: MODEL_PATH }\n',
    );
    const link = join(dir, 'hf', 'links', 'llama-cpp', 'model.gguf');
    await mkdir(dirname(link), { recursive: true });
    await symlink(`../../hub/models--org--llm/snapshots/${OLD}/model.gguf`, link);
  });

  it('prune keeps a revision a service link still uses, unless --force', async () => {
    const kept = await cli(['prune', '--dry-run', '--json']);
    expect(kept.code, kept.stderr).toBe(0);
    expect(planned(kept)).toEqual([]);
    expect(kept.json().plan.notes).toContain('hubcache.yaml pins 2 cached revision(s) that services need (llama-cpp); they stay (--force removes them anyway)');
    const forced = await cli(['prune', '--dry-run', '--json', '--force']);
    expect(planned(forced)).toEqual([`models--org--llm@${OLD}`]);
    // Without a manifest in the folder, nothing is pinned.
    const elsewhere = await runCli({ args: ['prune', '--dry-run', '--json', '--cache-dir', cacheDir], cwd: await makeTempDir(), env });
    expect(planned(elsewhere)).toEqual([`models--org--llm@${OLD}`]);
    // Named by $HUBCACHE_MANIFEST from anywhere.
    const byEnv = await runCli({ args: ['prune', '--dry-run', '--json', '--cache-dir', cacheDir], cwd: await makeTempDir(), env: { ...env, HUBCACHE_MANIFEST: join(dir, 'hubcache.yaml') } });
    expect(planned(byEnv)).toEqual([]);
  });

  it('rm of a needed revision keeps it, unless --force; unneeded repos go', async () => {
    const kept = await cli(['rm', 'org/llm', 'org/unused', '--dry-run', '--json']);
    expect(kept.code, kept.stderr).toBe(0);
    expect(planned(kept)).toEqual([`models--org--unused@${fakeCommit('org/unused:0')}`]);
    expect(kept.json().plan.notes.join('\n')).toMatch(/pinned and stays/);
    const forced = await cli(['rm', 'org/llm', '--dry-run', '--json', '--force']);
    expect(planned(forced)).toEqual([`models--org--llm@${NOW}`, `models--org--llm@${OLD}`].sort());
    const human = await cli(['rm', 'org/llm', '--dry-run']);
    expect(human.stdout).toContain('note: hubcache.yaml pins 2 cached revision(s)');
  });

  it('evict never chooses a needed revision, unless --force', async () => {
    const kept = await cli(['evict', '--max-size', '0', '--dry-run', '--json']);
    expect(planned(kept)).toEqual([`models--org--unused@${fakeCommit('org/unused:0')}`]);
    expect(kept.code).toBe(1); // the budget cannot be met without the pinned revisions
    const forced = await cli(['evict', '--max-size', '0', '--dry-run', '--json', '--force']);
    expect(planned(forced)).toHaveLength(3);
  });

  it('a broken manifest stops the cleanup instead of silently protecting nothing', async () => {
    await writeFile(join(dir, 'hubcache.yaml'), 'services:\n  llama-cpp:\n    modles: []\n');
    const res = await cli(['prune', '--dry-run']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('hubcache.yaml:3:5: unknown key "modles"');
    expect((await cli(['prune', '--dry-run', '--force'])).code).toBe(0);
  });

  it('ls shows which services use each repo and which repos no service uses', async () => {
    const res = await cli(['ls']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/REPO ID.*SERVICES/);
    expect(res.stdout).toMatch(/org\/llm .*llama-cpp/);
    expect(res.stdout).toMatch(/1 repo\(s\), 5\.0 kB, used by no service of the manifest: org\/unused/);
    const json = await cli(['ls', '--json']);
    expect(json.json().repos.map((r: any) => [r.repoId, r.services])).toEqual([
      ['org/llm', ['llama-cpp']],
      ['org/unused', []],
    ]);
    const without = await runCli({ args: ['ls', '--json', '--cache-dir', cacheDir], cwd: await makeTempDir(), env });
    expect(without.json().repos[0].services).toBeUndefined();
  });
});
