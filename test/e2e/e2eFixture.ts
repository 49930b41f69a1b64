/** The origin's content for the e2e run, and which bodies the stack must fetch from it. */
import type { Origin } from '../helpers/origin/createOrigin.js';
import { demoFixture } from '../helpers/origin/demoFixture.js';
import type { Fixture } from '../helpers/origin/fixture.js';
import { CLIENT, GGUF_FILE, GGUF_REPO, SYNCED } from './e2eSettings.js';
import { tinyGguf } from './tinyGguf.js';

/** The demo fixture, whose GGUF for llama-cpp is a real (tiny, random-weight) llama model. */
export function e2eFixture(): Fixture {
  const fixture = demoFixture();
  const gguf = tinyGguf();
  for (const repo of fixture.repos) {
    if (repo.repoId !== GGUF_REPO) continue;
    for (const commit of Object.values(repo.commits)) for (const file of commit.files) if (file.path === GGUF_FILE) file.source = gguf;
  }
  return fixture;
}

/** Every blob `models` and hub-client fetch (etag -> size): each body must cross once on the first up. */
export function expectedBlobs(origin: Origin): Map<string, { size: number }> {
  const blobs = new Map<string, { size: number }>();
  for (const f of [...SYNCED, ...CLIENT.files.map((path) => ({ repo: CLIENT.repo, path }))]) {
    const file = origin.file({ repoId: f.repo, path: f.path });
    blobs.set(file.etag, { size: file.blob.size });
  }
  return blobs;
}
