/**
 * `npm start` on a fresh state: the demo Hub, a sync of docker/hubcache.yaml, and `hubcache serve`
 * with its dashboard. The test runs it as a process (tsx demo/start.ts, what `npm start` runs),
 * fetches the page and a demo file through the mirror, then Ctrl-C (SIGINT) stops it cleanly.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hasChromium, launchBrowser, openPage, screenshot } from '../../helpers/browser.js';
import { makeTempDir } from '../../helpers/tempDir.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('npm start', () => {
  it('serves the dashboard and the demo mirror from a fresh state, and stops on Ctrl-C', async () => {
    const demoDir = join(await makeTempDir({ prefix: 'hubcache-demo-' }), 'state');
    const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(ROOT, 'demo', 'start.ts')], {
      cwd: ROOT,
      env: { ...process.env, HUBCACHE_DEMO_DIR: demoDir, PORT: '0' },
    });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        // Both lines are printed by separate writes: wait for the last one, not the first.
        const match = /Dashboard:\s+(http:\/\/\S+?)\/?\s[\s\S]*Admin token:\s+\S+/.exec(stdout);
        if (match?.[1]) resolve(match[1]);
      });
      void exited.then((code) => reject(new Error(`npm start exited early (${code}):\n${stdout}\n${stderr}`)));
    });
    try {
      expect(stdout).toContain('Admin token:');
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>hubcache</title>');
      // The example manifest was synced from the demo Hub: its GGUF is a cache hit.
      const gguf = await fetch(`${url}/Qwen/Qwen3-VL-30B-A3B-Instruct-GGUF/resolve/main/qwen3-vl-30b-a3b-instruct-q4_k_m.gguf`);
      expect(gguf.status).toBe(200);
      expect(gguf.headers.get('x-hubcache-cache')).toBe('hit');
      expect((await gguf.arrayBuffer()).byteLength).toBe(24 * 1024 * 1024);
      // A demo file not in the manifest: fetched through the mirror.
      const config = await fetch(`${url}/demo/tiny-model/resolve/main/config.json`);
      expect(config.status).toBe(200);
      expect(JSON.parse(await config.text())).toMatchObject({ architectures: ['TinyModel'] });
      const overview = (await (await fetch(`${url}/api/hubcache/overview`)).json()) as { services: Array<{ name: string; ok: boolean }> };
      expect(overview.services.map((s) => [s.name, s.ok])).toEqual([
        ['llama-cpp', true],
        ['whisperx', true],
        ['youtube-tools', true],
      ]);
      if (hasChromium) {
        const browser = await launchBrowser();
        try {
          const { page: tab, errors } = await openPage(browser);
          await tab.goto(`${url}/`);
          await tab.waitForSelector('[data-repo="Qwen/Qwen3-VL-30B-A3B-Instruct-GGUF"]');
          await tab.waitForSelector('[data-service="llama-cpp"] >> text=resolves');
          await screenshot(tab, 'npm-start', { fullPage: true });
          expect(errors).toEqual([]);
        } finally {
          await browser.close();
        }
      }
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(stdout).toContain('stopped.');
  }, 120_000);
});
