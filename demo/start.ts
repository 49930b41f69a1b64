/**
 * `npm start`: the whole stack on this machine, no internet. It starts the bundled demo Hub
 * (test/helpers/origin with its demo fixture) in this process, syncs the example manifest
 * (docker/hubcache.yaml) from it into a demo cache, then runs `hubcache serve` on that cache
 * with the demo Hub as upstream, and prints the dashboard's URL and an admin token.
 * Ctrl-C stops the server (answers in flight finish), then the demo Hub, and exits 0.
 *
 * Environment: HUBCACHE_DEMO_DIR (default ./.demo; delete it for a fresh start), PORT (default 8090).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOrigin } from '../test/helpers/origin/createOrigin.js';
import { demoFixture } from '../test/helpers/origin/demoFixture.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'hubcache.cjs');
const manifest = join(root, 'docker', 'hubcache.yaml');
const stateDir = resolve(process.env.HUBCACHE_DEMO_DIR ?? join(root, '.demo'));
const cacheDir = join(stateDir, 'hf', 'hub');
const port = process.env.PORT ?? '8090';

if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) {
  process.stderr.write('hubcache is not built yet: run `npm install` (it builds), or `npm run build`\n');
  process.exit(1);
}

const say = (line: string): boolean => process.stdout.write(`${line}\n`);
// Files the demo's processes make are group-writable, like those of a cache shared by a stack's containers.
process.umask(0o002);
const origin = await createOrigin({ fixture: demoFixture() });
say(`demo Hub (in this process): ${origin.url}`);

await mkdir(stateDir, { recursive: true });
const tokenFile = join(stateDir, 'admin-tokens');
const token = await readFile(tokenFile, 'utf8').then(
  (text) => text.trim().split(':').pop() ?? '',
  async () => {
    const fresh = `demo-${randomBytes(12).toString('hex')}`;
    await writeFile(tokenFile, `demo:${fresh}\n`, { mode: 0o600 });
    return fresh;
  },
);

let child: ChildProcess | undefined;
let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  if (child && child.exitCode === null) child.kill('SIGINT');
  else void origin.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

// The example manifest names container paths (hf_home: /data/...): --cache-dir puts the demo cache
// here instead, and the stable links go beside it (<demo>/hf/links/<service>/<name>).
say(`syncing ${manifest} into ${cacheDir} ...`);
const sync = await run([bin, 'sync', '-f', manifest, '--cache-dir', cacheDir, '--endpoint', origin.url], { inherit: true });
if (sync !== 0) say(`sync exited ${sync}; serving what there is`);
// Set up for sharing, as a stack's cache should be (doctor's fixes: group rw, setgid folders), and
// verified once, so the dashboard's doctor and "last verify" panels show a healthy cache.
if (!stopping) await run([bin, 'doctor', '--fix', '--cache-dir', cacheDir, '--quiet'], { inherit: false });
if (!stopping) await run([bin, 'verify', '--cache-dir', cacheDir, '--quiet'], { inherit: false });
if (stopping) {
  await origin.close();
  process.exit(0);
}

child = spawn(
  process.execPath,
  [bin, 'serve', '--cache-dir', cacheDir, '--upstream', origin.url, '--port', port, '--manifest', manifest, '--budget', '100MB', '--admin-token-file', tokenFile, '--scan-interval', '15', '--no-log'],
  // Its own process group: the terminal's Ctrl-C reaches us, and we pass it on exactly once
  // (a second SIGINT during its graceful close would kill it mid-way).
  { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
);
// However this process ends, the server it started (in its own process group) ends with it.
process.once('exit', () => {
  if (child?.exitCode === null) child.kill('SIGTERM');
});
let printed = false;
let out = '';
child.stdout!.setEncoding('utf8').on('data', (data: string) => {
  out += data;
  const url = /hubcache serve: (http:\/\/\S+)/.exec(out)?.[1];
  if (!url || printed) return;
  printed = true;
  say('');
  say(`Dashboard:    ${url}/`);
  say(`Admin token:  ${token}   (paste it in the page to run sync, prune, evict)`);
  say(`Mirror:       HF_ENDPOINT=${url} hubcache download demo/tiny-model`);
  say(`              curl -O ${url}/demo/tiny-model/resolve/main/config.json`);
  say(`Demo cache:   ${cacheDir}`);
  say('Ctrl-C stops everything.');
  // A first client through the mirror, so the traffic chart has a miss (a fill) and a hit to show.
  void (async () => {
    for (let i = 0; i < 2; i++) await fetch(`${url}/demo/tiny-model/resolve/main/model.safetensors`).then((r) => r.arrayBuffer()).catch(() => undefined);
  })();
});
const code = await new Promise<number>((resolveExit) => child!.once('exit', (c) => resolveExit(c ?? 0)));
await origin.close();
say(stopping ? 'stopped.' : `hubcache serve exited ${code}`);
process.exit(stopping ? 0 : code);

function run(args: string[], options: { inherit: boolean }): Promise<number> {
  return new Promise((resolveRun) => {
    const p = spawn(process.execPath, args, { stdio: options.inherit ? 'inherit' : 'ignore', env: { ...process.env, HF_HUB_DISABLE_PROGRESS_BARS: '1' } });
    p.once('exit', (c) => resolveRun(c ?? 1));
  });
}
