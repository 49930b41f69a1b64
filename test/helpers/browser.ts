/**
 * Real headless Chromium (Debian's `chromium`, driven by playwright-core) for the dashboard's
 * tests, and where their screenshots go (`test-artifacts/`, gitignored).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.HUBCACHE_CHROMIUM ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM_PATH);
export const ARTIFACT_DIR = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** A page that records console errors and uncaught exceptions. */
export async function openPage(browser: Browser, params: { width?: number; height?: number } = {}): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: params.width ?? 1440, height: params.height ?? 900 }, deviceScaleFactor: 1 });
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  return { page, errors };
}

export async function screenshot(page: Page, name: string, params: { fullPage?: boolean } = {}): Promise<string> {
  await mkdir(ARTIFACT_DIR, { recursive: true });
  const path = `${ARTIFACT_DIR}${name}.png`;
  await page.screenshot({ path, fullPage: params.fullPage ?? true });
  return path;
}
