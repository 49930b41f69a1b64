import { describe, expect, it } from 'vitest';
import { resolveConfig, expandPath } from '../../src/config.js';

describe('cache root resolution (huggingface_hub precedence)', () => {
  const base = { HOME: '/home/u' };
  it('follows the documented precedence', () => {
    expect(resolveConfig({ env: { ...base } }).cacheDir).toBe('/home/u/.cache/huggingface/hub');
    expect(resolveConfig({ env: { ...base, XDG_CACHE_HOME: '/xdg' } }).cacheDir).toBe('/xdg/huggingface/hub');
    expect(resolveConfig({ env: { ...base, XDG_CACHE_HOME: '/xdg', HF_HOME: '/data/.huggingface' } }).cacheDir).toBe('/data/.huggingface/hub');
    expect(resolveConfig({ env: { ...base, HF_HOME: '/h', HUGGINGFACE_HUB_CACHE: '/legacy' } }).cacheDir).toBe('/legacy');
    expect(resolveConfig({ env: { ...base, HF_HOME: '/h', HUGGINGFACE_HUB_CACHE: '/legacy', HF_HUB_CACHE: '/new' } }).cacheDir).toBe('/new');
    expect(resolveConfig({ env: { ...base, HF_HUB_CACHE: '/new' }, cacheDir: '/flag' }).cacheDir).toBe('/flag');
  });
  it('expands ~ and $VAR like Python', () => {
    expect(resolveConfig({ env: { ...base, HF_HOME: '~/hf' } }).cacheDir).toBe('/home/u/hf/hub');
    expect(resolveConfig({ env: { ...base, ROOT: '/data', HF_HUB_CACHE: '$ROOT/hub' } }).cacheDir).toBe('/data/hub');
    expect(resolveConfig({ env: { ...base, ROOT: '/data', HF_HUB_CACHE: '${ROOT}/x' } }).cacheDir).toBe('/data/x');
    expect(expandPath({ path: '$UNSET/x', env: base })).toBe('$UNSET/x');
  });
  it('reads endpoint, token and offline from env, flags win', () => {
    const c = resolveConfig({ env: { ...base, HF_ENDPOINT: 'http://mirror:8090/', HF_TOKEN: 'hf_x', HF_HUB_OFFLINE: '1' } });
    expect(c.endpoint).toBe('http://mirror:8090');
    expect(c.token).toBe('hf_x');
    expect(c.offline).toBe(true);
    const d = resolveConfig({ env: { ...base, HF_ENDPOINT: 'http://a', HF_TOKEN: 'x' }, endpoint: 'http://b', token: 'y' });
    expect(d.endpoint).toBe('http://b');
    expect(d.token).toBe('y');
    expect(resolveConfig({ env: { ...base, HF_HUB_OFFLINE: '0' } }).offline).toBe(false);
  });
});
