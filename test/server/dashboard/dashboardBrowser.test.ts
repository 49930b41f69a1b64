/**
 * The dashboard in real headless Chromium against a real `hubcache serve` process: it loads
 * with no console error, shows the repos and services of a test cache, updates when a download
 * through the mirror completes, and runs a prune plan -> confirm with the admin token (refused
 * without). It watches a throttled fill while it runs (progress and rate, then its end) and the
 * traffic chart count the hits and misses. Screenshots of each view go to test-artifacts/.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCache } from '../../helpers/cacheBuilder.js';
import { hasChromium, launchBrowser, openPage, screenshot } from '../../helpers/browser.js';
import { createOrigin, type Origin } from '../../helpers/origin/createOrigin.js';
import { linearRepo } from '../../helpers/origin/fixture.js';
import { runCli } from '../../helpers/runCli.js';
import { startServeProcess, type ServeProcess } from '../../helpers/startServeProcess.js';
import { makeTempDir } from '../../helpers/tempDir.js';

const MiB = 1024 * 1024;
/** A file the origin trickles (BIG at BIG_RATE: about 8 s), so the page can watch its fill. */
const BIG = 6 * MiB;
const BIG_RATE = 768 * 1024;
const TOKEN = 'ci-admin-token-0123456789';

/** The page's document, in functions run in the browser (the tests' own lib has no DOM). */
interface PageElement {
  getAttribute(name: string): string | null;
  closest(selector: string): PageElement | null;
  querySelector(selector: string): PageElement | null;
}
declare const document: { querySelector(selector: string): PageElement | null };

let origin: Origin;

/** The hits and misses the requests chart counts over its window. */
async function chartCounts(page: Page): Promise<{ hits: number; misses: number }> {
  await page.waitForSelector('#chart-requests svg');
  return page.evaluate(() => {
    const svg = document.querySelector('#chart-requests svg');
    return { hits: Number(svg?.getAttribute('data-hits')), misses: Number(svg?.getAttribute('data-misses')) };
  });
}

/** What a fill's row says: its percent, its text, and its rate in bytes/s (parsed back from "1.2 MB/s"). */
async function fillShown(row: Locator): Promise<{ percent: number; text: string; bytesPerSecond: number }> {
  const percent = Number(await row.locator('[data-percent]').getAttribute('data-percent'));
  const text = (await row.locator('[data-percent]').textContent()) ?? '';
  const rate = ((await row.locator('.rate').textContent()) ?? '').match(/^([\d.]+) (B|kB|MB|GB)\/s$/);
  expect(rate, 'a rate like "786.4 kB/s"').not.toBeNull();
  const unit = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[rate![2] as 'B' | 'kB' | 'MB' | 'GB'];
  return { percent, text, bytesPerSecond: Number(rate![1]) * unit };
}
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
          linearRepo({ repoId: 'acme/big', commits: [{ files: [{ path: 'big.bin', source: { size: BIG, seed: 'dash-big' } }] }] }),
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

  it('watches a fill while it runs (progress, rate, then done) and charts hits and misses', async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${serve.url}/`);
    await page.waitForSelector('[data-repo="acme/chat"]');
    const requestsBefore = await chartCounts(page);

    origin.faults.add({ kind: 'trickle', bytesPerSecond: BIG_RATE, match: { path: 'big.bin' } });
    // A client reads the whole file through the mirror (a miss: one upstream fill, streamed as it arrives).
    const download = fetch(`${serve.url}/acme/big/resolve/main/big.bin`).then(async (res) => Buffer.from(await res.arrayBuffer()).byteLength);
    const row = page.locator('#fills tr', { has: page.locator('[data-fill="big.bin"]') });
    await row.waitFor({ timeout: 20_000 });
    const first = await fillShown(row);
    expect(first.percent).toBeLessThan(100);
    expect(first.text).toMatch(/ \/ 6\.3 MB \(/);
    await screenshot(page, 'dashboard-fill-in-flight');
    // The next polls show it grow, at a rate near the origin's.
    await page.waitForFunction((before) => Number(document.querySelector('[data-fill="big.bin"]')?.closest('tr')?.querySelector('[data-percent]')?.getAttribute('data-percent') ?? 101) > before, first.percent, { timeout: 15_000 });
    const later = await fillShown(row);
    expect(later.percent).toBeGreaterThan(first.percent);
    expect(later.bytesPerSecond).toBeGreaterThan(0);
    expect(later.bytesPerSecond).toBeLessThan(4 * BIG_RATE);

    expect(await download).toBe(BIG);
    // Done: the fill leaves the list, and the repo is in the cache's table.
    await row.waitFor({ state: 'detached', timeout: 20_000 });
    await page.waitForSelector('#fills >> text=No transfer from upstream right now.');
    await page.waitForSelector('[data-repo="acme/big"]', { timeout: 20_000 });

    // Two more reads are hits; the requests chart counts both kinds over its window.
    for (let i = 0; i < 2; i++) expect(Buffer.from(await (await fetch(`${serve.url}/acme/big/resolve/main/big.bin`)).arrayBuffer()).byteLength).toBe(BIG);
    await page.waitForFunction(
      (before) => {
        const svg = document.querySelector('#chart-requests svg');
        return Number(svg?.getAttribute('data-hits')) >= before.hits + 2 && Number(svg?.getAttribute('data-misses')) >= before.misses + 1;
      },
      requestsBefore,
      { timeout: 20_000 },
    );
    const after = await chartCounts(page);
    expect(after.hits - requestsBefore.hits).toBe(2);
    expect(after.misses - requestsBefore.misses).toBe(1);
    // Drawn: bars of both kinds, and the legend says the counts.
    expect(await page.locator('#chart-requests rect.bar.hits').count()).toBeGreaterThan(0);
    expect(await page.locator('#chart-requests rect.bar.misses').count()).toBeGreaterThan(0);
    expect(await page.textContent('#chart-traffic')).toContain(`${after.hits} hits`);
    await screenshot(page, 'dashboard-traffic');
    expect(errors).toEqual([]);
  }, 90_000);
});
