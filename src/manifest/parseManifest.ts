/**
 * Parses and validates `hubcache.yaml`. The YAML is walked node by node (not
 * converted to plain objects first) so every problem can name its line and
 * column, like a compiler: `hubcache.yaml:12:7: unknown key "lnk"`.
 *
 * The rules here are the source of truth; `schema/hubcache.schema.json`
 * mirrors them for editors, and a test keeps the two in agreement. Names that
 * become paths (repo ids, revisions, file paths, service and link names) go
 * through the same guards the rest of hubcache uses.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { HubcacheError } from '../errors.js';
import { REPO_TYPES, isRepoType, validateRepoId, type RepoType } from '../cache/repoId.js';
import { repoFilePathProblem } from '../cache/repoFilePath.js';
import { DEFAULT_REVISION, validateRevision } from '../cache/revision.js';
import type { Manifest, ManifestLink, ManifestModel, ManifestService, SourcePosition } from './manifest.js';
import { envNameProblem, safeNameProblem } from './safeName.js';
import { EXTENSION_KEY_RE, YamlReader as Reader, type YamlFields as Fields } from './yamlReader.js';

export interface ManifestIssue extends SourcePosition {
  message: string;
}

export interface ParseManifestParams {
  text: string;
  /** Where the text came from; relative `hf_home`/`cache_dir` resolve against its folder. */
  path: string;
  /** How to name the file in messages (default: `path`). */
  displayPath?: string;
}

const TOP_KEYS = ['version', 'hf_home', 'cache_dir', 'services'];
const SERVICE_KEYS = ['models'];
const MODEL_KEYS = ['repo', 'repo_type', 'revision', 'files', 'include', 'exclude', 'link', 'links'];
const LINK_KEYS = ['name', 'path', 'env'];

export function parseManifest(params: ParseManifestParams): Manifest {
  const displayPath = params.displayPath ?? params.path;
  const reader = Reader.parse(params.text);
  let manifest: Manifest | undefined;
  if (reader.issues.length === 0) manifest = readRoot({ reader, path: params.path, displayPath });
  if (reader.issues.length > 0 || !manifest) throw manifestError({ path: params.path, displayPath, issues: reader.issues });
  return manifest;
}

/** One message per problem, each prefixed `file:line:column:`; all of them in `data.issues`. */
export function manifestError(params: { path: string; displayPath: string; issues: ManifestIssue[] }): HubcacheError {
  const issues = [...params.issues].sort((a, b) => a.line - b.line || a.column - b.column);
  const lines = issues.map((i) => `${params.displayPath}:${i.line}:${i.column}: ${i.message}`);
  const message = lines.length === 1 ? (lines[0] as string) : `${params.displayPath}: ${lines.length} problems\n  ${lines.join('\n  ')}`;
  return new HubcacheError({
    code: 'E_MANIFEST',
    message,
    hint: 'See `hubcache sync --help` for the manifest format; editors complete and check it with schema/hubcache.schema.json.',
    data: { path: params.path, issues },
  });
}

function readRoot(params: { reader: Reader; path: string; displayPath: string }): Manifest | undefined {
  const { reader } = params;
  const root = reader.root;
  if (root === null || (isScalar(root) && root.value === null)) {
    reader.issue({ line: 1, column: 1 }, 'the manifest is empty; it needs at least a "services:" map');
    return undefined;
  }
  const fields = reader.fields({ node: root, at: { line: 1, column: 1 }, allowed: TOP_KEYS, what: 'the manifest' });
  if (!fields) return undefined;
  const version = fields.get('version');
  if (version && !(isScalar(version.value) && version.value.value === 1)) {
    reader.issue(version.at, `"version" must be 1, got ${reader.describe(version.value)}`);
  }
  const base = dirname(resolve(params.path));
  const location = (key: 'hf_home' | 'cache_dir'): string | undefined => {
    const field = fields.get(key);
    const text = reader.string(field, 'the manifest');
    if (text === undefined || !field) return undefined;
    if (text.startsWith('~') || text.includes('$')) {
      reader.issue(field.at, `"${key}" must be a plain path (absolute, or relative to the manifest's folder): "~" and "$VARS" are not expanded`);
      return undefined;
    }
    if (text.includes('\0')) {
      reader.issue(field.at, `"${key}" contains a NUL byte`);
      return undefined;
    }
    return isAbsolute(text) ? resolve(text) : resolve(base, text);
  };
  const hfHome = location('hf_home');
  const cacheDir = location('cache_dir');
  const servicesField = fields.get('services');
  const services: ManifestService[] = [];
  if (!servicesField) {
    if (fields.unknown?.length === 0) reader.issue(reader.pos(root), 'the manifest needs a "services:" map (service name -> the models it needs)');
  } else if (!isMap(servicesField.value)) {
    reader.issue(servicesField.at, `"services" must be a map of service names, got ${reader.describe(servicesField.value)}`);
  } else {
    for (const pair of servicesField.value.items) {
      const keyNode = reader.resolve(pair.key);
      const at = reader.pos(keyNode, servicesField.at);
      if (!isScalar(keyNode) || (typeof keyNode.value !== 'string' && typeof keyNode.value !== 'number')) {
        reader.issue(at, `service names must be plain names, got ${reader.describe(keyNode)}`);
        continue;
      }
      const name = String(keyNode.value);
      if (EXTENSION_KEY_RE.test(name)) continue;
      const problem = safeNameProblem({ name });
      if (problem) {
        reader.issue(at, `invalid service name "${name}": ${problem}`);
        continue;
      }
      const service = readService({ reader, name, at, node: reader.resolve(pair.value) });
      if (service) services.push(service);
    }
  }
  return { path: resolve(params.path), displayPath: params.displayPath, hfHome, cacheDir, services };
}

function readService(params: { reader: Reader; name: string; at: SourcePosition; node: Node | null }): ManifestService | undefined {
  const { reader, name, at } = params;
  const what = `service "${name}"`;
  const fields = reader.fields({ node: params.node, at, allowed: SERVICE_KEYS, what });
  if (!fields) return undefined;
  const modelsField = fields.get('models');
  if (!modelsField) {
    if (fields.unknown?.length === 0) reader.issue(at, `${what} needs a "models:" list`);
    return undefined;
  }
  if (!isSeq(modelsField.value)) {
    reader.issue(modelsField.at, `"models" of ${what} must be a list of models, got ${reader.describe(modelsField.value)}`);
    return undefined;
  }
  const models: ManifestModel[] = [];
  modelsField.value.items.forEach((raw, index) => {
    const node = reader.resolve(raw);
    const model = readModel({ reader, node, at: reader.pos(node, modelsField.at), what: `model #${index + 1} of ${what}` });
    if (model) models.push(model);
  });
  // Link names become files in one folder and env names one env file: each must be unique in the service.
  const names = new Map<string, SourcePosition>();
  const envs = new Map<string, SourcePosition>();
  for (const link of models.flatMap((m) => m.links)) {
    const seen = names.get(link.name);
    if (seen) reader.issue(link.at, `link name "${link.name}" is used twice in ${what} (first at line ${seen.line})`);
    else names.set(link.name, link.at);
    if (link.env !== undefined) {
      const seenEnv = envs.get(link.env);
      if (seenEnv) reader.issue(link.at, `env "${link.env}" is set twice in ${what} (first at line ${seenEnv.line})`);
      else envs.set(link.env, link.at);
    }
  }
  return { name, models, at };
}

function readModel(params: { reader: Reader; node: Node | null; at: SourcePosition; what: string }): ManifestModel | undefined {
  const { reader, what, at } = params;
  const fields = reader.fields({ node: params.node, at, allowed: MODEL_KEYS, what });
  if (!fields) return undefined;
  const before = reader.issues.length;

  const repoField = fields.get('repo');
  const repoId = reader.string(repoField, what);
  if (!repoField && fields.unknown?.length === 0) reader.issue(at, `${what} needs "repo" (a repo id like "org/name")`);
  if (repoId !== undefined && repoField) {
    try {
      validateRepoId({ repoId });
    } catch (err) {
      reader.issue(repoField.at, (err as Error).message);
    }
  }

  let repoType: RepoType = 'model';
  const typeField = fields.get('repo_type');
  const typeText = reader.string(typeField, what);
  if (typeText !== undefined && typeField) {
    if (isRepoType(typeText)) repoType = typeText;
    else reader.issue(typeField.at, `"repo_type" must be one of ${REPO_TYPES.join(', ')}, got "${typeText}"`);
  }

  const revisionField = fields.get('revision');
  const revision = reader.string(revisionField, what) ?? DEFAULT_REVISION;
  if (revisionField && revision !== DEFAULT_REVISION) {
    try {
      validateRevision({ revision });
    } catch (err) {
      reader.issue(revisionField.at, (err as Error).message);
    }
  }

  const filesList = reader.stringList(fields.get('files'), what);
  const files: string[] = [];
  for (const item of filesList ?? []) {
    const problem = repoFilePathProblem({ path: item.value });
    if (problem) reader.issue(item.at, `invalid file path "${item.value}": ${problem}`);
    else if (files.includes(item.value)) reader.issue(item.at, `file "${item.value}" is listed twice`);
    else files.push(item.value);
  }
  const include = reader.stringList(fields.get('include'), what)?.map((i) => i.value);
  const exclude = reader.stringList(fields.get('exclude'), what)?.map((i) => i.value);
  const globField = fields.get('include') ?? fields.get('exclude');
  if (fields.has('files') && globField) {
    reader.issue(globField.keyAt, `"files" and "${globField.key}" cannot be combined in ${what}: "files" names exact files, "include"/"exclude" filter the whole repo`);
  }

  const links = readLinks({ reader, fields, what, files: fields.has('files') ? files : undefined });
  if (reader.issues.length > before || repoId === undefined) return undefined;
  return {
    repoType,
    repoId,
    revision,
    files: fields.has('files') ? files : undefined,
    include,
    exclude,
    links,
    at,
  };
}

function readLinks(params: { reader: Reader; fields: Fields; what: string; files: string[] | undefined }): ManifestLink[] {
  const { reader, fields, what } = params;
  const linkField = fields.get('link');
  const linksField = fields.get('links');
  if (linkField && linksField) {
    reader.issue(linksField.keyAt, `use either "link" (one) or "links" (a list) in ${what}, not both`);
    return [];
  }
  const items: Array<{ node: Node | null; at: SourcePosition }> = [];
  if (linkField) items.push({ node: linkField.value, at: linkField.at });
  if (linksField) {
    if (!isSeq(linksField.value)) {
      reader.issue(linksField.at, `"links" of ${what} must be a list of links, got ${reader.describe(linksField.value)}`);
      return [];
    }
    for (const raw of linksField.value.items) {
      const node = reader.resolve(raw);
      items.push({ node, at: reader.pos(node, linksField.at) });
    }
  }
  const links: ManifestLink[] = [];
  for (const item of items) {
    const link = readLink({ reader, ...item, what: `the link of ${what}`, files: params.files });
    if (link) links.push(link);
  }
  return links;
}

function readLink(params: { reader: Reader; node: Node | null; at: SourcePosition; what: string; files: string[] | undefined }): ManifestLink | undefined {
  const { reader, node, at, what, files } = params;
  let name: string | undefined;
  let nameAt = at;
  let path: string | undefined;
  let env: string | undefined;
  if (isScalar(node) && typeof node.value === 'string') {
    // `link: model.gguf` is short for `link: { name: model.gguf }`.
    name = node.value;
  } else {
    const fields = reader.fields({ node, at, allowed: LINK_KEYS, what });
    if (!fields) return undefined;
    const nameField = fields.get('name');
    if (!nameField) {
      if (fields.unknown?.length === 0) reader.issue(at, `${what} needs "name" (the file name under links/<service>/)`);
      return undefined;
    }
    name = reader.string(nameField, what);
    nameAt = nameField.at;
    const pathField = fields.get('path');
    path = reader.string(pathField, what);
    if (path !== undefined && pathField) {
      const problem = repoFilePathProblem({ path });
      if (problem) {
        reader.issue(pathField.at, `invalid link path "${path}": ${problem}`);
        return undefined;
      }
      if (files && !files.some((f) => f === path || f.startsWith(`${path}/`))) {
        reader.issue(pathField.at, `link path "${path}" is not one of the model's "files" (nor a folder holding one)`);
        return undefined;
      }
    }
    const envField = fields.get('env');
    env = reader.string(envField, what);
    if (env !== undefined && envField) {
      const problem = envNameProblem({ name: env });
      if (problem) {
        reader.issue(envField.at, `invalid env name "${env}": ${problem}`);
        return undefined;
      }
    }
  }
  if (name === undefined) return undefined;
  const problem = safeNameProblem({ name });
  if (problem) {
    reader.issue(nameAt, `invalid link name "${name}": ${problem}`);
    return undefined;
  }
  // One listed file: the link names that file; otherwise the snapshot folder.
  const target = path ?? (files && files.length === 1 ? files[0] : undefined);
  return { name, path: target, env, at: nameAt };
}
