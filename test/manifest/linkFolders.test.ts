/**
 * `sync` owns `<HF_HOME>/links/<service>/` and nothing else: when `links/` or
 * a service's folder is a symlink, following it would create links and delete
 * "undeclared" ones wherever it points. sync refuses instead, and touches nothing.
 */
import { mkdir, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCache } from '../helpers/cacheBuilder.js';
import { runCli } from '../helpers/runCli.js';
import { makeTempDir } from '../helpers/tempDir.js';

/** An HF_HOME with a cached model, a manifest for it, and a folder outside HF_HOME holding someone's links. */
async function setup(): Promise<{ hfHome: string; manifestPath: string; outside: string }> {
  const base = await makeTempDir();
  const hfHome = join(base, 'hf');
  await buildCache({ cacheDir: join(hfHome, 'hub'), repos: [{ repoId: 'org/m', revisions: [{ refs: ['main'], files: { 'model.gguf': Buffer.alloc(100, 1) } }] }] });
  const manifestPath = join(base, 'hubcache.yaml');
  await writeFile(manifestPath, `hf_home: ${hfHome}\nservices:\n  llm:\n    models:\n      - repo: org/m\n        files: [model.gguf]\n        link: { name: model.gguf, env: MODEL_PATH }\n`);
  const outside = join(base, 'elsewhere');
  await mkdir(join(outside, 'llm'), { recursive: true });
  // Links someone keeps there: to sync they would look "undeclared".
  await symlink('/etc/hostname', join(outside, 'llm', 'theirs'));
  await symlink('/etc/hostname', join(outside, 'theirs'));
  return { hfHome, manifestPath, outside };
}

async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(dir, { recursive: true })).sort()) out.push(`${name} -> ${await readlink(join(dir, name)).catch(() => '(folder)')}`);
  return out;
}

describe('sync and linked link folders', () => {
  for (const linked of ['links', 'links/llm'] as const) {
    it(`refuses when ${linked} is a symlink, and touches nothing there`, async () => {
      const { hfHome, manifestPath, outside } = await setup();
      if (linked === 'links') await symlink(outside, join(hfHome, 'links'));
      else {
        await mkdir(join(hfHome, 'links'));
        await symlink(join(outside, 'llm'), join(hfHome, 'links', 'llm'));
      }
      const before = await listing(outside);
      for (const extra of [[], ['--dry-run']]) {
        const res = await runCli({ args: ['sync', '-f', manifestPath, '--offline', '--json', ...extra] });
        expect(res.code, res.stdout + res.stderr).toBe(1);
        expect(res.json().error.code).toBe('E_OUTSIDE_CACHE');
        expect(res.json().error.message).toContain(join(hfHome, linked));
        expect(await listing(outside)).toEqual(before);
      }
    });
  }

  it('still writes links into real folders (control)', async () => {
    const { hfHome, manifestPath } = await setup();
    const res = await runCli({ args: ['sync', '-f', manifestPath, '--offline', '--json'] });
    expect(res.code, res.stdout + res.stderr).toBe(0);
    expect(await readdir(join(hfHome, 'links', 'llm'))).toEqual(['model.gguf']);
  });
});
