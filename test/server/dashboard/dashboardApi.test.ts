/**
 * The dashboard's API in-process (app.handle, no socket): first view from the cached scan,
 * paging, services and their links, read-only without admin tokens, and prune as
 * plan -> confirm with who asked in the action log, refused without a token.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../../src/server/createApp.js';
import { createDashboard, type Dashboard } from '../../../src/server/dashboard/createDashboard.js';
import { parseAdminTokens } from '../../../src/server/dashboard/adminTokens.js';
import { DASHBOARD_ASSET_DIR } from '../../../src/server/dashboard/dashboardAssets.js';
import type { ActionRecord } from '../../../src/server/dashboard/dashboardActions.js';
import { Metrics } from '../../../src/server/metrics.js';
import type { AppRequest } from '../../../src/server/reply.js';
import { createLocalStore } from '../../../src/store/localStore.js';
import { buildCache } from '../../helpers/cacheBuilder.js';
import { makeTempDir } from '../../helpers/tempDir.js';

const TOKEN = 'admin-secret-123';

function request(params: { method?: string; url: string; body?: unknown; token?: string }): AppRequest {
  const data = params.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(params.body));
  return {
    method: params.method ?? 'GET',
    rawUrl: params.url,
    headers: params.token ? { authorization: `Bearer ${params.token}` } : {},
    signal: new AbortController().signal,
    readBody: async () => data,
  };
}

async function json(app: App, params: Parameters<typeof request>[0]): Promise<{ status: number; value: any; headers: Record<string, string> }> {
  const reply = await app.handle(request(params));
  const body = reply.body.kind === 'bytes' ? reply.body.data.toString('utf8') : '';
  return { status: reply.status, value: body ? JSON.parse(body) : undefined, headers: reply.headers };
}

async function startDashboard(params: { cacheDir: string; manifestPath?: string; admin: boolean; log?: ActionRecord[] }): Promise<{ app: App; dashboard: Dashboard }> {
  const metrics = new Metrics();
  const store = createLocalStore({ cacheDir: params.cacheDir });
  const dashboard = await createDashboard({
    cacheDir: params.cacheDir,
    metrics,
    store,
    manifestPath: params.manifestPath,
    budgetBytes: 10_000,
    adminTokens: params.admin ? parseAdminTokens({ text: `alice:${TOKEN}\n`, source: 'test' }) : undefined,
    upstream: 'http://127.0.0.1:9',
    offline: true,
    doctorIntervalMs: 3_600_000,
    log: (record) => params.log?.push(record),
  });
  await dashboard.ready();
  const app = createApp({ store, metrics, dashboard, upstream: 'http://127.0.0.1:9', offline: true });
  return { app, dashboard };
}

let cacheDir: string;
let manifestPath: string;
const dashboards: Dashboard[] = [];

beforeAll(async () => {
  const home = await makeTempDir({ prefix: 'hubcache-dash-' });
  cacheDir = join(home, 'hub');
  await buildCache({
    cacheDir,
    repos: [
      {
        repoId: 'acme/llm',
        revisions: [
          { refs: ['main'], files: { 'model.gguf': Buffer.alloc(5000, 1), 'config.json': '{}' } },
          // No ref points here: prune material.
          { files: { 'model.gguf': Buffer.alloc(3000, 2), 'config.json': '{"old":1}' } },
        ],
      },
      ...Array.from({ length: 60 }, (_, i) => ({ repoId: `bulk/repo-${String(i).padStart(2, '0')}`, revisions: [{ refs: ['main'], files: { 'a.txt': `file ${i}` } }] })),
    ],
  });
  manifestPath = join(home, 'hubcache.yaml');
  await writeFile(manifestPath, 'version: 1\nservices:\n  chat:\n    models:\n      - repo: acme/llm\n        files: [model.gguf]\n        link: { name: model.gguf, env: MODEL_PATH }\n');
  await mkdir(join(home, 'links'), { recursive: true });
});
afterAll(() => {
  for (const d of dashboards) d.close();
});

describe('dashboard API', () => {
  it('serves the page and its files with a strict CSP, and never shadows Hub routes', async () => {
    const { app, dashboard } = await startDashboard({ cacheDir, admin: false });
    dashboards.push(dashboard);
    const page = await app.handle(request({ url: '/' }));
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect((await app.handle(request({ url: '/hubcache-ui/app.js' }))).headers['content-type']).toMatch(/javascript/);
    // Every module of the page is served, and preloaded by the page (none waits for its importer to load first).
    const html = Buffer.from((page.body as { data: Uint8Array }).data).toString('utf8');
    const modules = (await readdir(DASHBOARD_ASSET_DIR)).filter((name) => name.endsWith('.js') && name !== 'app.js');
    expect(modules.length).toBeGreaterThanOrEqual(8);
    for (const name of modules) {
      expect((await app.handle(request({ url: `/hubcache-ui/${name}` }))).status, name).toBe(200);
      expect(html, name).toContain(`<link rel="modulepreload" href="/hubcache-ui/${name}">`);
    }
    // A Hub API route still reaches the mirror (offline here: 504 or a Hub-style error, not the dashboard).
    const hub = await app.handle(request({ url: '/api/models/acme/llm/revision/main' }));
    expect(hub.headers['x-error-message'] ?? hub.headers['content-type']).toBeDefined();
    expect(hub.headers['content-security-policy']).toBeUndefined();
  });

  it('gives the overview and pages of repos from the cached scan, with services and links', async () => {
    const { app, dashboard } = await startDashboard({ cacheDir, manifestPath, admin: false });
    dashboards.push(dashboard);
    const overview = await json(app, { url: '/api/hubcache/overview' });
    expect(overview.status).toBe(200);
    expect(overview.value.scan.repos).toBe(61);
    expect(overview.value.scan.revisions).toBe(62);
    expect(overview.value.budget).toEqual({ maxBytes: 10_000, source: '--budget' });
    expect(overview.value.disk.totalBytes).toBeGreaterThan(0);
    expect(overview.value.topRepos[0].id).toBe('acme/llm');
    expect(overview.value.services).toHaveLength(1);
    expect(overview.value.services[0]).toMatchObject({ name: 'chat', ok: false, repos: ['acme/llm'] });
    expect(overview.value.services[0].links[0]).toMatchObject({ name: 'model.gguf', state: 'missing', revision: 'main' });

    const first = await json(app, { url: '/api/hubcache/repos?limit=25&sort=name' });
    expect(first.value).toMatchObject({ total: 61, matching: 61, offset: 0, limit: 25 });
    expect(first.value.rows).toHaveLength(25);
    expect(first.value.rows[0].id).toBe('acme/llm');
    expect(first.value.rows[0].services).toEqual(['chat']);
    expect(first.value.rows[0].revisions).toHaveLength(2);
    const last = await json(app, { url: '/api/hubcache/repos?limit=25&offset=50&sort=name' });
    expect(last.value.rows).toHaveLength(11);
    const filtered = await json(app, { url: '/api/hubcache/repos?q=REPO-4' });
    expect(filtered.value.matching).toBe(10);
  });

  it('is read-only without --admin-token-file, and logs the refusal', async () => {
    const log: ActionRecord[] = [];
    const { app, dashboard } = await startDashboard({ cacheDir, admin: false, log });
    dashboards.push(dashboard);
    const refused = await json(app, { method: 'POST', url: '/api/hubcache/actions/plan', body: { command: 'prune' }, token: TOKEN });
    expect(refused.status).toBe(403);
    expect(log.at(-1)).toMatchObject({ state: 'refused', who: 'anonymous', action: 'plan-prune' });
  });

  it('plans a prune, refuses it without the token, runs it on confirm, and logs who asked', async () => {
    const log: ActionRecord[] = [];
    const { app, dashboard } = await startDashboard({ cacheDir, manifestPath, admin: true, log });
    dashboards.push(dashboard);
    expect((await json(app, { url: '/api/hubcache/whoami', token: TOKEN })).value.admin).toBe('alice');
    expect((await json(app, { url: '/api/hubcache/whoami', token: 'wrong-token-x' })).value.admin).toBeNull();

    const noToken = await json(app, { method: 'POST', url: '/api/hubcache/actions/plan', body: { command: 'prune' } });
    expect(noToken.status).toBe(401);
    const wrong = await json(app, { method: 'POST', url: '/api/hubcache/actions/plan', body: { command: 'prune' }, token: 'wrong-token-x' });
    expect(wrong.status).toBe(401);

    // evict --max-size: the same planner as the CLI, the manifest's revision pinned.
    const evict = await json(app, { method: 'POST', url: '/api/hubcache/actions/plan', body: { command: 'evict', maxSize: '1kB' }, token: TOKEN });
    expect(evict.status).toBe(200);
    expect(evict.value.plan.budget).toMatchObject({ maxBytes: 1000, met: false });
    expect(evict.value.plan.notes.join('\n')).toContain('pins');
    expect((await json(app, { method: 'POST', url: '/api/hubcache/actions/plan', body: { command: 'evict', maxSize: 'lots' }, token: TOKEN })).status).toBe(400);

    const plan = await json(app, { method: 'POST', url: '/api/hubcache/actions/plan', body: { command: 'prune' }, token: TOKEN });
    expect(plan.status).toBe(200);
    expect(plan.value.plan.revisions).toHaveLength(1);
    expect(plan.value.plan.revisions[0].repo).toBe('models--acme--llm');
    expect(plan.value.plan.totals.bytes).toBeGreaterThan(3000);

    const generation = (await json(app, { url: '/api/hubcache/overview' })).value.scan.generation as number;
    const stolen = await json(app, { method: 'POST', url: '/api/hubcache/actions/confirm', body: { planId: plan.value.id } });
    expect(stolen.status).toBe(401);
    const done = await json(app, { method: 'POST', url: '/api/hubcache/actions/confirm', body: { planId: plan.value.id }, token: TOKEN });
    expect(done.status).toBe(200);
    expect(done.value.failed).toEqual([]);
    expect(done.value.bytesFreed).toBe(plan.value.plan.totals.bytes);
    // A plan runs once.
    expect((await json(app, { method: 'POST', url: '/api/hubcache/actions/confirm', body: { planId: plan.value.id }, token: TOKEN })).status).toBe(400);

    // The executed plan triggers a rescan; the API answers from it once it is done.
    for (let i = 0; i < 200 && (await json(app, { url: '/api/hubcache/overview' })).value.scan.generation === generation; i++) await new Promise((r) => setTimeout(r, 50));
    const repos = await json(app, { url: '/api/hubcache/repos?q=acme' });
    expect(repos.value.rows[0].revisions).toHaveLength(1);
    const actions = (await json(app, { url: '/api/hubcache/overview' })).value.actions as ActionRecord[];
    expect(actions.map((a) => [a.who, a.action, a.state])).toEqual(
      expect.arrayContaining([
        ['alice', 'confirm', 'done'],
        ['alice', 'plan-prune', 'done'],
        ['anonymous', 'plan-prune', 'refused'],
        ['anonymous', 'confirm', 'refused'],
      ]),
    );
    expect(log.some((r) => r.who === 'alice' && r.action === 'confirm' && r.state === 'done')).toBe(true);
    expect(JSON.stringify(log)).not.toContain(TOKEN);
  });
});
