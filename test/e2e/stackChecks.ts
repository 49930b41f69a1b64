/**
 * The e2e run's checks of what it cannot see from outside: what the services printed (E2E-RESULT),
 * and the example docker/ files as compose and `hubcache compose check` take them.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Origin } from '../helpers/origin/createOrigin.js';
import { docker, run } from './engine.js';
import type { ServiceResult } from './composeStack.js';
import { CLIENT, GGUF_FILE, GGUF_REPO, HUBCACHE_IMAGE, ROOT, VOLUME } from './e2eSettings.js';
import { CACHE_GID, CLIENT_MOUNT, CLIENT_UID, MOUNT } from './stackFile.js';
import { check } from './stepLog.js';

export function checkResults(params: { results: Record<string, ServiceResult>; origin: Origin }): void {
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

export async function checkComposeVersions(): Promise<void> {
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
export async function checkExample(work: string): Promise<void> {
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
