// @ts-check
/**
 * What the page knows (the last overview, the repos page on screen, the admin token) and the one
 * way it talks to the server. The views read `state`; app.js's poll fills it.
 */

/** @type {{ overview: any; repos: any; view: { offset: number; sort: string; q: string }; generation: number; token: string; admin: string | null; plan: any; busy: boolean }} */
export const state = {
  overview: null,
  repos: null,
  view: { offset: 0, sort: 'size', q: '' },
  generation: -1,
  token: sessionStorage.getItem('hubcache-admin-token') ?? '',
  admin: null,
  plan: null,
  busy: false,
};

/** Sends the admin token the user pasted (kept in sessionStorage, this tab only). @param {string} path @param {RequestInit} [init] */
export async function api(path, init = {}) {
  const headers = /** @type {Record<string, string>} */ ({ ...(init.headers ?? {}) });
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  if (init.body) headers['content-type'] = 'application/json';
  const res = await fetch(`/api/hubcache/${path}`, { ...init, headers });
  const value = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(value.error ?? `HTTP ${res.status}`), { status: res.status });
  return value;
}
