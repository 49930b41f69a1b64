/**
 * Reads the parts of a docker compose file that decide how services share the
 * Hugging Face cache: volume mounts (short `src:dst[:ro]` and long
 * `{type, source, target}` syntax), environment (list `- K=V` and map `K: V`),
 * `env_file` entries and `command` words, each with its line and column.
 *
 * Values go through compose's own interpolation as far as the file alone
 * allows: `$$` is a `$`, `${X:-default}` and `${X-default}` take the default;
 * a value still naming a variable is kept as `undefined` (unknown here).
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import { HubcacheError } from '../errors.js';

export interface ComposePosition {
  /** The file the position is in (the compose file, or an env file). */
  file: string;
  line: number;
  column: number;
}

export interface ComposeMount {
  type: 'volume' | 'bind' | 'tmpfs' | 'other';
  /** Volume name (named volumes) or absolute host path (binds); undefined for anonymous volumes and tmpfs. */
  source: string | undefined;
  /** `volume:<name>` or `bind:<host path>`: what two services must share to share the cache. */
  key: string | undefined;
  /** Absolute path in the container. */
  target: string;
  readOnly: boolean;
  at: ComposePosition;
}

export interface ComposeEnvVar {
  name: string;
  /** Interpolated value; undefined when it comes from the host env or names a variable this file does not define. */
  value: string | undefined;
  raw: string | undefined;
  from: 'environment' | 'env_file';
  at: ComposePosition;
}

export interface ComposeWord {
  value: string;
  at: ComposePosition;
}

export interface ComposeService {
  name: string;
  at: ComposePosition;
  mounts: ComposeMount[];
  /** `environment` wins over `env_file` (compose's rule); both are kept, in that order. */
  env: ComposeEnvVar[];
  /** `required: false` entries may be absent (compose skips them). */
  envFiles: Array<{ path: string; at: ComposePosition; found: boolean; required: boolean }>;
  command: ComposeWord[];
}

export interface ComposeFile {
  path: string;
  displayPath: string;
  services: ComposeService[];
}

export interface LoadComposeFileParams {
  path: string;
  /** How to name the file in findings (default: `path`). */
  displayPath?: string;
}

export async function loadComposeFile(params: LoadComposeFileParams): Promise<ComposeFile> {
  let text: string;
  try {
    text = await readFile(params.path, 'utf8');
  } catch (err) {
    throw new HubcacheError({
      code: 'E_USAGE',
      message: `Compose file ${params.displayPath ?? params.path} cannot be read: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (err as Error).message}`,
      hint: 'Name it: `hubcache compose check path/to/docker-compose.yml`.',
      data: { path: params.path },
      cause: err,
    });
  }
  const file = parseComposeFile({ text, path: params.path, displayPath: params.displayPath ?? params.path });
  const base = dirname(resolve(params.path));
  for (const service of file.services) {
    // Compose's precedence: `environment` first, then env files in order; the first definition wins.
    for (const envFile of service.envFiles) {
      const absolute = isAbsolute(envFile.path) ? envFile.path : resolve(base, envFile.path);
      const content = await readFile(absolute, 'utf8').catch(() => undefined);
      envFile.found = content !== undefined;
      if (content === undefined) continue;
      service.env.push(...parseEnvFile({ text: content, file: envFile.path }));
    }
  }
  return file;
}

export interface ParseComposeFileParams {
  text: string;
  /** Where the text came from (the result's `path`). */
  path: string;
  /** How to name the file in findings (default: `path`). */
  displayPath?: string;
}

export function parseComposeFile(params: ParseComposeFileParams): ComposeFile {
  const displayPath = params.displayPath ?? params.path;
  const lineCounter = new LineCounter();
  const doc = parseDocument(params.text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const pos = first?.linePos?.[0];
    throw new HubcacheError({
      code: 'E_USAGE',
      message: `${displayPath}:${pos?.line ?? 1}:${pos?.col ?? 1}: not valid YAML: ${(first?.message ?? '').split(/ at line \d+/)[0]}`,
      data: { path: params.path },
    });
  }
  const at = (node: unknown, fallback?: ComposePosition): ComposePosition => {
    const range = (node as { range?: [number, number, number] | null } | null | undefined)?.range;
    if (!range) return fallback ?? { file: displayPath, line: 1, column: 1 };
    const { line, col } = lineCounter.linePos(range[0]);
    return { file: displayPath, line, column: col };
  };
  const deref = (node: unknown): Node | null => (isAlias(node) ? ((node.resolve(doc as Document) as Node | undefined) ?? null) : ((node as Node | null) ?? null));
  const base = dirname(resolve(params.path));
  const services: ComposeService[] = [];
  const root = deref(doc.contents);
  const servicesNode = isMap(root) ? deref(root.get('services', true)) : null;
  if (!isMap(servicesNode)) return { path: params.path, displayPath, services };
  for (const pair of servicesNode.items) {
    const keyNode = deref(pair.key);
    if (!isScalar(keyNode)) continue;
    const serviceAt = at(keyNode);
    const body = deref(pair.value);
    const service: ComposeService = { name: String(keyNode.value), at: serviceAt, mounts: [], env: [], envFiles: [], command: [] };
    services.push(service);
    if (!isMap(body)) continue;
    // Merge keys (`<<: *defaults`) are how compose files share settings between services.
    const fields = new Map<string, Node | null>();
    const collect = (map: Node | null): void => {
      if (!isMap(map)) return;
      for (const p of map.items) {
        const k = deref(p.key);
        if (!isScalar(k)) continue;
        if (k.value === '<<') {
          const v = deref(p.value);
          if (isSeq(v)) for (const item of v.items) collect(deref(item));
          else collect(v);
          continue;
        }
        if (!fields.has(String(k.value))) fields.set(String(k.value), deref(p.value));
      }
    };
    collect(body);

    const volumes = fields.get('volumes');
    if (isSeq(volumes)) {
      for (const raw of volumes.items) {
        const item = deref(raw);
        const mount = isScalar(item) ? shortMount({ text: String(item.value), base }) : isMap(item) ? longMount({ map: item, deref, base }) : undefined;
        if (mount) service.mounts.push({ ...mount, at: at(item, serviceAt) });
      }
    }

    const environment = fields.get('environment');
    if (isSeq(environment)) {
      for (const raw of environment.items) {
        const item = deref(raw);
        if (!isScalar(item)) continue;
        const text = String(item.value);
        const eq = text.indexOf('=');
        const name = eq === -1 ? text : text.slice(0, eq);
        const rawValue = eq === -1 ? undefined : text.slice(eq + 1);
        service.env.push({ name, raw: rawValue, value: interpolate(rawValue), from: 'environment', at: at(item, serviceAt) });
      }
    } else if (isMap(environment)) {
      for (const p of environment.items) {
        const k = deref(p.key);
        const v = deref(p.value);
        if (!isScalar(k)) continue;
        const rawValue = isScalar(v) && v.value !== null ? String(v.value) : undefined;
        service.env.push({ name: String(k.value), raw: rawValue, value: interpolate(rawValue), from: 'environment', at: at(k, serviceAt) });
      }
    }

    const envFile = fields.get('env_file');
    const envFileItems = isSeq(envFile) ? envFile.items.map(deref) : envFile ? [envFile] : [];
    for (const item of envFileItems) {
      if (isScalar(item)) service.envFiles.push({ path: String(item.value), at: at(item, serviceAt), found: false, required: true });
      else if (isMap(item)) {
        const p = deref(item.get('path', true));
        const required = deref(item.get('required', true));
        if (isScalar(p)) service.envFiles.push({ path: String(p.value), at: at(item, serviceAt), found: false, required: !(isScalar(required) && required.value === false) });
      }
    }

    const command = fields.get('command');
    if (isSeq(command)) {
      for (const raw of command.items) {
        const item = deref(raw);
        if (isScalar(item) && item.value !== null) service.command.push({ value: String(item.value), at: at(item, serviceAt) });
      }
    } else if (isScalar(command) && typeof command.value === 'string') {
      // Shell form: words are enough to find paths; exact quoting does not matter for that.
      const position = at(command, serviceAt);
      for (const word of command.value.split(/\s+/).filter(Boolean)) service.command.push({ value: word.replace(/^["']|["']$/g, ''), at: position });
    }
  }
  return { path: params.path, displayPath, services };
}

function shortMount(params: { text: string; base: string }): Omit<ComposeMount, 'at'> | undefined {
  // `${DATA:-./data}:/data` is common; a mount naming an unknown variable cannot be compared, so it is left out.
  const text = interpolate(params.text);
  if (text === undefined) return undefined;
  const parts = text.split(':');
  if (parts.length === 1) return { type: 'volume', source: undefined, key: undefined, target: parts[0] as string, readOnly: false };
  const [source, target, mode] = parts as [string, string, string | undefined];
  const readOnly = (mode ?? '').split(',').includes('ro');
  if (isHostPath(source)) {
    // `~` is the host user's home, unknown here: such a bind is identified by its text.
    const host = source.startsWith('~') ? source : resolve(params.base, source);
    return { type: 'bind', source: host, key: `bind:${host}`, target, readOnly };
  }
  return { type: 'volume', source, key: `volume:${source}`, target, readOnly };
}

function longMount(params: { map: Node; deref: (n: unknown) => Node | null; base: string }): Omit<ComposeMount, 'at'> | undefined {
  if (!isMap(params.map)) return undefined;
  const get = (key: string): unknown => {
    const node = params.deref(params.map && isMap(params.map) ? params.map.get(key, true) : undefined);
    const value = isScalar(node) ? node.value : undefined;
    return typeof value === 'string' ? interpolate(value) : value;
  };
  const target = get('target');
  if (typeof target !== 'string') return undefined;
  const type = String(get('type') ?? 'volume');
  const source = get('source');
  const readOnly = get('read_only') === true;
  if (type === 'bind' && typeof source === 'string') {
    const host = resolve(params.base, source);
    return { type: 'bind', source: host, key: `bind:${host}`, target, readOnly };
  }
  if (type === 'volume') {
    return typeof source === 'string' ? { type: 'volume', source, key: `volume:${source}`, target, readOnly } : { type: 'volume', source: undefined, key: undefined, target, readOnly };
  }
  return { type: type === 'tmpfs' ? 'tmpfs' : 'other', source: undefined, key: undefined, target, readOnly };
}

function isHostPath(source: string): boolean {
  return source.startsWith('/') || source.startsWith('.') || source.startsWith('~');
}

/** Compose interpolation as far as the file alone tells: defaults are used, other variables are unknown. */
export function interpolate(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let unknown = false;
  const out = value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, _name, op: string | undefined, arg: string | undefined) => {
    if (whole === '$$') return '$';
    if (op === ':-' || op === '-') return arg ?? '';
    unknown = true;
    return whole;
  });
  return unknown ? undefined : out;
}

/** `KEY=VALUE` lines as compose reads env files: comments, blank lines, `export`, quotes. */
export function parseEnvFile(params: { text: string; file: string }): ComposeEnvVar[] {
  const vars: ComposeEnvVar[] = [];
  params.text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const body = trimmed.replace(/^export\s+/, '');
    const eq = body.indexOf('=');
    const name = (eq === -1 ? body : body.slice(0, eq)).trim();
    let raw = eq === -1 ? undefined : body.slice(eq + 1).trim();
    let quoted = false;
    if (raw !== undefined && raw.length >= 2 && ((raw.startsWith('"') && raw.endsWith('"')) || (raw.startsWith("'") && raw.endsWith("'")))) {
      quoted = raw.startsWith("'");
      raw = raw.slice(1, -1);
    } else if (raw !== undefined) {
      raw = raw.replace(/\s+#.*$/, '');
    }
    const column = line.length - line.trimStart().length + 1;
    vars.push({ name, raw, value: quoted ? raw : interpolate(raw), from: 'env_file', at: { file: params.file, line: index + 1, column } });
  });
  return vars;
}
