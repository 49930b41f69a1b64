/**
 * The dashboard in real headless Chromium against a real `hubcache serve` process: it loads
 * with no console error, shows the repos and services of a test cache, updates when a download
 * through the mirror completes, and runs a prune plan -> confirm with the admin token (refused
 * without). Screenshots of each view go to test-artifacts/.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCache } from '../../helpers/cacheBuilder.js';
import { hasChromium, launchBrowser, openPage, screenshot } from '../../helpers/browser.js';
import { createOrigin, type Origin } from '../../helpers/origin/createOrigin.js';
import { linearRepo } from '../../helpers/origin/fixture.js';
import { runCli } from '../../helpers/runCli.js';
import { startServeProcess, type ServeProcess } from '../../helpers/startServeProcess.js';
import { makeTempDir } from '../../helpers/tempDir.js';

const MiB = 1024 * 1024;
const TOKEN = 'ci-admin-token-0123456789';

let origin: Origin;
let serve: ServeProcess;
let browser: Browser;
let home: string;

describe.skipIf(!hasChromium)('dashboard in Chromium', () => {
  beforeAll(async () => {
    origin = await createOrigin({
      fixture: {
        repos: [
          linearRepo({ repoId: 'acme/chat', commits: [{ files: [{ path: 'model.gguf', source: { size: 2 * MiB, seed: 'dash-chat' } }, { path: 'config.json', source: '{}' }] }] }),
          linearRepo({ repoId: 'acme/new-model', commits: [{ files: [{ path: 'weights.safetensors', source: { size: 3 * MiB, seed: 'dash-new' } }] }] }),
        ],
      },
    });
    home = await makeTempDir({ prefix: 'hubcache-dash-browser-' });
    const cacheDir = join(home, 'hub');
    // Prune material: a revision no ref points to.
    await buildCache({ cacheDir, repos: [{ repoId: 'old/unused', revisions: [{ files: { 'weights.bin': Buffer.alloc(200_000, 9), 'config.json': '{"old":true}' } }] }] });
    const manifest = join(home, 'hubcache.yaml');
    await writeFile(manifest, 'version: 1\nservices:\n  chat:\n    models:\n      - repo: acme/chat\n        files: [model.gguf]\n        link: { name: model.gguf, env: MODEL_PATH }\n');
    const sync = await runCli({ args: ['sync', '-f', manifest, '--cache-dir', cacheDir, '--endpoint', origin.url, '--json'] });
    expect(sync.code, sync.stderr).toBe(0);
    const tokens = join(home, 'admin-tokens');
    await writeFile(tokens, `ci:${TOKEN}\n`);
    serve = await startServeProcess({ args: ['--cache-dir', cacheDir, '--upstream', origin.url, '--manifest', manifest, '--admin-token-file', tokens, '--budget', '10MB'] });
    browser = await launchBrowser();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    expect(await serve?.stop()).toBe(0);
    await origin?.close();
  });

  it('shows repos and services, updates on a download, and prunes only with the admin token', async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${serve.url}/`);
    await page.waitForSelector('[data-repo="acme/chat"]');
    await page.waitForSelector('[data-service="chat"] >> text=resolves');
    expect(await page.textContent('#repos')).toContain('old/unused');
    expect(await page.textContent('#admin-state')).toContain('read-only');
    // Without a token the action buttons are disabled, and the API refuses.
    expect(await page.isDisabled('#act-prune')).toBe(true);
    const refused = await fetch(`${serve.url}/api/hubcache/actions/plan`, { method: 'POST', body: JSON.stringify({ command: 'prune' }) });
    expect(refused.status).toBe(401);
    await screenshot(page, 'dashboard-main');

    // A download through the mirror: the page shows the new repo without a reload.
    const download = await fetch(`${serve.url}/acme/new-model/resolve/main/weights.safetensors`);
    expect(Buffer.from(await download.arrayBuffer()).byteLength).toBe(3 * MiB);
    await page.waitForSelector('[data-repo="acme/new-model"]', { timeout: 20_000 });
    await page.waitForSelector('#cards >> text=1 misses');
    await screenshot(page, 'dashboard-after-download');

    // With the token: plan -> review -> confirm.
    await page.fill('#admin-token', TOKEN);
    await page.click('#admin-unlock');
    await page.waitForSelector('#admin-state >> text=admin: ci');
    await page.click('#act-prune');
    await page.waitForSelector('[data-plan]');
    expect(await page.textContent('[data-plan]')).toContain('old/unused');
    await screenshot(page, 'dashboard-prune-plan');
    await page.click('#plan-confirm');
    await page.waitForSelector('#action-msg >> text=removed');
    await page.locator('[data-repo="old/unused"]').waitFor({ state: 'detached', timeout: 20_000 });
    await page.waitForSelector('#action-log >> text=confirm');
    await screenshot(page, 'dashboard-after-prune');

    // Sync from the page: runs in the background, its outcome lands in the action log.
    await page.click('#act-sync');
    await page.waitForSelector('#action-log >> text=1/1 service(s) complete', { timeout: 30_000 });

    expect(errors).toEqual([]);
    const actions = serve
      .stderr()
      .split('\n')
      .filter((line) => line.includes('"event":"action"'))
      .map((line) => JSON.parse(line) as { who: string; action: string; state: string });
    expect(actions).toEqual(expect.arrayContaining([expect.objectContaining({ who: 'ci', action: 'confirm', state: 'done' }),
        expect.objectContaining({ who: 'ci', action: 'sync', state: 'done' }), expect.objectContaining({ who: 'anonymous', state: 'refused' })]));
    expect(serve.stderr()).not.toContain(TOKEN);
  }, 90_000);
});
