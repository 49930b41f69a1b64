// An app service with its own downloader: as another uid in the cache's group, it downloads a
// model's files with @huggingface/hub through the stack's mirror into the shared cache (mounted
// at another path than the other services), then reads files `hubcache sync` put there.
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { downloadFileToCacheDir } from '@huggingface/hub';

const hubUrl = process.env.HF_ENDPOINT;
const cacheDir = process.env.HF_HUB_CACHE;
const repo = process.env.E2E_CLIENT_REPO;
const revision = process.env.E2E_CLIENT_REVISION;
const paths = process.env.E2E_CLIENT_FILES.split(',');
const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

// The mirror starts with the stack: wait until it answers (it may still be binding its port).
for (let attempt = 0; ; attempt++) {
  try {
    await fetch(`${hubUrl}/api/whoami-v2`, { signal: AbortSignal.timeout(2000) });
    break;
  } catch (err) {
    if (attempt >= 60) throw err;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
const downloaded = {};
for (const path of paths) {
  const pointer = await downloadFileToCacheDir({ repo, revision, path, hubUrl, cacheDir });
  downloaded[path] = { pointer, resolved: realpathSync(pointer), sha256: sha256(pointer) };
}
const synced = {};
for (const path of (process.env.E2E_CLIENT_READ ?? '').split(',').filter(Boolean)) {
  synced[path] = { resolved: realpathSync(path), sha256: sha256(path) };
}
console.log(`E2E-RESULT ${JSON.stringify({ service: 'hub-client', uid: process.getuid(), groups: process.getgroups(), downloaded, synced })}`);
