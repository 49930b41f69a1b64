/**
 * The only module that reads the environment. Everything else receives a
 * `Config` (or plain params), so tests and the library never depend on the
 * process's env by accident.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { HubcacheError } from './errors.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
/** huggingface_hub's default for HF_HUB_ETAG_TIMEOUT: how long a metadata request may stay unanswered. */
export const DEFAULT_ETAG_TIMEOUT_MS = 10_000;

export interface Config {
  /** Absolute hub cache root (the folder holding `models--*`). */
  cacheDir: string;
  /** Absolute HF_HOME (parent of the hub cache in the default layout; home of `links/`). */
  hfHome: string;
  /** Hub base URL without trailing slash. */
  endpoint: string;
  /**
   * Where `hubcache serve` fetches from: $HUBCACHE_UPSTREAM, else the real Hub. Not HF_ENDPOINT:
   * in a stack that variable points clients at the mirror itself.
   */
  upstream: string;
  /** Bearer token, if any. Never print it. */
  token: string | undefined;
  /** Cache only: no network at all. */
  offline: boolean;
  /** True when progress bars must not be drawn. */
  disableProgressBars: boolean;
  /** HUBCACHE_DEBUG: print stack traces of unexpected failures. */
  debug: boolean;
  /** `$HUBCACHE_MANIFEST`: the hubcache.yaml to use when `-f` is not given. */
  manifestPath: string | undefined;
  /**
   * HF_HUB_ETAG_TIMEOUT (seconds, like huggingface_hub): how long to wait for a metadata answer
   * (connect + response head). With a cached copy, a host silent this long is given up on at once.
   */
  metadataTimeoutMs: number;
}

export interface ResolveConfigParams {
  env?: NodeJS.ProcessEnv;
  /** `--cache-dir`: wins over every env variable. */
  cacheDir?: string;
  /** `--endpoint`: wins over HF_ENDPOINT. */
  endpoint?: string;
  /** `--token`: wins over HF_TOKEN and the token file. */
  token?: string;
  /** `--offline`: forces offline even if HF_HUB_OFFLINE is unset. */
  offline?: boolean;
}

const TRUE_VALUES = new Set(['1', 'ON', 'YES', 'TRUE']);

/** Same truthiness rule as huggingface_hub's `_is_true`. */
export function isTruthyEnv(value: string | undefined): boolean {
  return value !== undefined && TRUE_VALUES.has(value.trim().toUpperCase());
}

/**
 * Expands `$VAR` / `${VAR}` (left as-is when unset, like Python's
 * os.path.expandvars) and then a leading `~` (like os.path.expanduser).
 */
export function expandPath(params: { path: string; env: NodeJS.ProcessEnv }): string {
  const { env } = params;
  const withVars = params.path.replace(/\$(\w+)|\$\{([^}]+)\}/g, (whole, a: string | undefined, b: string | undefined) => {
    const name = a ?? b ?? '';
    const value = env[name];
    return value === undefined ? whole : value;
  });
  const home = env.HOME && env.HOME.length > 0 ? env.HOME : homedir();
  if (withVars === '~') return home;
  if (withVars.startsWith('~/')) return join(home, withVars.slice(2));
  return withVars;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.length > 0 ? value : undefined;
}

function absolute(path: string): string {
  return isAbsolute(path) ? path : resolve(path);
}

/** HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
export function resolveHfHome(params: { env: NodeJS.ProcessEnv }): string {
  const { env } = params;
  const hfHome = nonEmpty(env.HF_HOME);
  if (hfHome) return absolute(expandPath({ path: hfHome, env }));
  const xdg = nonEmpty(env.XDG_CACHE_HOME);
  const base = xdg ? expandPath({ path: xdg, env }) : expandPath({ path: '~/.cache', env });
  return absolute(join(base, 'huggingface'));
}

/**
 * Cache root precedence (as huggingface_hub resolves it): --cache-dir, HF_HUB_CACHE,
 * HUGGINGFACE_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub,
 * ~/.cache/huggingface/hub.
 */
export function resolveCacheDir(params: { env: NodeJS.ProcessEnv; cacheDir?: string }): string {
  const { env } = params;
  const explicit = nonEmpty(params.cacheDir) ?? nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE);
  if (explicit) return absolute(expandPath({ path: explicit, env }));
  return join(resolveHfHome({ env }), 'hub');
}

function readTokenFile(params: { env: NodeJS.ProcessEnv; hfHome: string }): string | undefined {
  const path = nonEmpty(params.env.HF_TOKEN_PATH)
    ? expandPath({ path: params.env.HF_TOKEN_PATH as string, env: params.env })
    : join(params.hfHome, 'token');
  try {
    return nonEmpty(readFileSync(path, 'utf8').trim());
  } catch {
    // No token file is the normal case for public models.
    return undefined;
  }
}

/**
 * The Hub base URL, checked here so a typo is a usage error (exit 2) naming where it came from,
 * not an "Invalid URL" deep in the HTTP client.
 */
export function parseEndpoint(params: { value: string; source: string }): string {
  let url: URL | undefined;
  try {
    url = new URL(params.value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    const shown = JSON.stringify(params.value.length > 200 ? `${params.value.slice(0, 200)}…` : params.value);
    throw new HubcacheError({
      code: 'E_USAGE',
      message: `Invalid endpoint ${shown} (from ${params.source}): expected an http:// or https:// URL`,
      hint: `Use a URL such as ${DEFAULT_ENDPOINT} or http://mirror:8090, or unset HF_ENDPOINT for the default.`,
      data: { endpoint: params.value.slice(0, 200), source: params.source },
    });
  }
  return params.value.replace(/\/+$/, '');
}

/** HF_HUB_ETAG_TIMEOUT: seconds (huggingface_hub reads it as a number of seconds). */
function parseEtagTimeout(value: string | undefined): number {
  if (nonEmpty(value) === undefined) return DEFAULT_ETAG_TIMEOUT_MS;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new HubcacheError({
      code: 'E_USAGE',
      message: `HF_HUB_ETAG_TIMEOUT must be a positive number of seconds, got ${JSON.stringify(String(value).slice(0, 50))}`,
      hint: 'Unset it for the default of 10 seconds.',
    });
  }
  return Math.round(seconds * 1000);
}

export function resolveConfig(params: ResolveConfigParams = {}): Config {
  const env = params.env ?? process.env;
  const hfHome = resolveHfHome({ env });
  const cacheDir = resolveCacheDir({ env, ...(params.cacheDir !== undefined ? { cacheDir: params.cacheDir } : {}) });
  const endpoint =
    nonEmpty(params.endpoint) !== undefined
      ? parseEndpoint({ value: params.endpoint as string, source: '--endpoint' })
      : nonEmpty(env.HF_ENDPOINT) !== undefined
        ? parseEndpoint({ value: env.HF_ENDPOINT as string, source: 'HF_ENDPOINT' })
        : DEFAULT_ENDPOINT;
  const upstream = nonEmpty(env.HUBCACHE_UPSTREAM) !== undefined ? parseEndpoint({ value: env.HUBCACHE_UPSTREAM as string, source: 'HUBCACHE_UPSTREAM' }) : DEFAULT_ENDPOINT;
  const token =
    nonEmpty(params.token) ??
    nonEmpty(env.HF_TOKEN) ??
    nonEmpty(env.HUGGING_FACE_HUB_TOKEN) ??
    readTokenFile({ env, hfHome });
  const offline = params.offline === true || isTruthyEnv(env.HF_HUB_OFFLINE) || isTruthyEnv(env.TRANSFORMERS_OFFLINE);
  const disableProgressBars = isTruthyEnv(env.HF_HUB_DISABLE_PROGRESS_BARS) || isTruthyEnv(env.CI);
  const manifestPath = nonEmpty(env.HUBCACHE_MANIFEST) ? absolute(expandPath({ path: env.HUBCACHE_MANIFEST as string, env })) : undefined;
  const debug = isTruthyEnv(env.HUBCACHE_DEBUG);
  const metadataTimeoutMs = parseEtagTimeout(env.HF_HUB_ETAG_TIMEOUT);
  return { cacheDir, hfHome, endpoint, upstream, token, offline, disableProgressBars, debug, manifestPath, metadataTimeoutMs };
}

/** Where the S3 client connects (credentials stay with the AWS SDK's own chain: env, ~/.aws, roles). */
export interface S3Settings {
  /** AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL; undefined: AWS itself. */
  endpoint: string | undefined;
  region: string;
  /** AWS_S3_FORCE_PATH_STYLE, or an endpoint whose host is an IP address or localhost (no per-bucket DNS there). */
  forcePathStyle: boolean;
}

export function resolveS3Settings(params: { env?: NodeJS.ProcessEnv } = {}): S3Settings {
  const env = params.env ?? process.env;
  const endpoint = nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  const region = nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? 'us-east-1';
  let host = '';
  try {
    host = endpoint === undefined ? '' : new URL(endpoint).hostname;
  } catch {
    host = '';
  }
  const ipOrLocal = /^\d+\.\d+\.\d+\.\d+$/.test(host) || host.startsWith('[') || host === 'localhost';
  return { endpoint, region, forcePathStyle: isTruthyEnv(env.AWS_S3_FORCE_PATH_STYLE) || ipOrLocal };
}
