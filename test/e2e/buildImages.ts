/**
 * The images of the e2e run. The base image (debootstrap + node) and the app image are kept
 * between runs, cached by what they are made of; hubcache's image is built from a clean copy of
 * the sources each run (its build stage tagged and kept, so its apt layer stays cached).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DOCKER, docker, run, tail } from './engine.js';
import { BUILD_STAGE_IMAGE, CACHE_DIR, HUBCACHE_IMAGE, ROOT } from './e2eSettings.js';
import { check } from './stepLog.js';

/** node:20-bookworm-slim, made by test/e2e/baseImage.sh (kept in the engine once made). */
export async function makeBaseImage(): Promise<void> {
  const made = await run({ command: 'bash', args: [join(ROOT, 'test/e2e/baseImage.sh'), CACHE_DIR], env: { DOCKER } });
  process.stdout.write(made.stdout);
}

/** Built once per content of test/e2e/app/ and kept (like the base image): it pins what it installs. */
export async function buildAppImage(): Promise<string> {
  const dir = join(ROOT, 'test/e2e/app');
  const hash = createHash('sha256');
  for (const name of (await readdir(dir)).sort()) hash.update(`${name}\0`).update(await readFile(join(dir, name)));
  const tag = `hubcache-e2e/app:${hash.digest('hex').slice(0, 12)}`;
  if ((await docker(['image', 'inspect', tag], { allowFail: true, quiet: true })).code === 0) {
    console.log(`   ${tag} already built`);
    return tag;
  }
  const old = (await docker(['images', '-q', 'hubcache-e2e/app'], { quiet: true })).stdout.trim().split('\n').filter(Boolean);
  if (old.length > 0) await docker(['rmi', '-f', ...new Set(old)], { allowFail: true });
  await docker(['build', '--force-rm', '-q', '-t', tag, dir]);
  return tag;
}

/** hubcache's image from docker/Dockerfile, fed the files git knows (tracked or not ignored). */
export async function buildHubcacheImage(): Promise<void> {
  // The build stage is tagged and kept, like the base images: its apt layer (compilers for the
  // addon) is then cached between runs; npm ci reruns whenever the sources change.
  for (const [target, tag] of [['build', BUILD_STAGE_IMAGE], [undefined, HUBCACHE_IMAGE]] as const) {
    const args = target ? `--target ${target} ` : '';
    const built = await run({
      command: 'bash',
      args: ['-c', `set -o pipefail; git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -c -T - 2>/dev/null | ${DOCKER} build --force-rm ${args}-f docker/Dockerfile -t ${tag} -`],
      cwd: ROOT,
    });
    process.stdout.write(`${tail(built.stdout, 2).replace(/^/gm, '   | ')}\n`);
  }
  const version = (await docker(['run', '--rm', HUBCACHE_IMAGE, '--version'])).stdout.trim();
  check(/\d+\.\d+\.\d+/.test(version), `the image runs hubcache (${version})`);
}
