/**
 * Repo ids and repo types, and the folder names the hub cache gives them
 * (`models--org--name`). These rules are shared with huggingface_hub, so they
 * follow its `validate_repo_id` and `repo_folder_name` exactly.
 */
import { HubcacheError } from '../errors.js';
import { quoteInput } from '../quoteInput.js';

export const REPO_TYPES = ['model', 'dataset', 'space', 'kernel'] as const;
export type RepoType = (typeof REPO_TYPES)[number];

export interface RepoRef {
  repoType: RepoType;
  repoId: string;
}

// One optional "namespace/" then a name; each part starts and ends with a word character.
const REPO_ID_RE = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\/)?[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?$/;

export function isRepoType(value: string): value is RepoType {
  return (REPO_TYPES as readonly string[]).includes(value);
}

export function parseRepoType(params: { value: string | undefined }): RepoType {
  const value = params.value ?? 'model';
  const singular = value.endsWith('s') ? value.slice(0, -1) : value;
  if (isRepoType(singular)) return singular;
  throw new HubcacheError({
    code: 'E_USAGE',
    message: `Unknown repo type ${quoteInput(value)}`,
    hint: `Use one of: ${REPO_TYPES.join(', ')}.`,
    data: { repoType: value },
  });
}

/** Throws E_INVALID_REPO_ID with the precise rule that failed. */
export function validateRepoId(params: { repoId: string }): void {
  const { repoId } = params;
  const fail = (why: string): never => {
    throw new HubcacheError({
      code: 'E_INVALID_REPO_ID',
      message: `Invalid repo id ${quoteInput(repoId)}: ${why}`,
      hint: 'A repo id looks like "org/name" or "name": letters, digits, "-", "_", "." only, at most 96 characters per part.',
      data: { repoId },
    });
  };
  if (typeof repoId !== 'string' || repoId.length === 0) fail('it is empty');
  if ((repoId.match(/\//g) ?? []).length > 1) fail('it has more than one "/"');
  if (repoId.includes('--')) fail('"--" is not allowed (it separates parts of cache folder names)');
  if (repoId.includes('..')) fail('".." is not allowed');
  if (repoId.endsWith('.git')) fail('it must not end with ".git"');
  if (!REPO_ID_RE.test(repoId)) fail('only letters, digits, "-", "_" and "." are allowed, and each part must start and end with a letter or digit');
}

/** `models--org--name`, as huggingface_hub names the repo folder. */
export function repoFolderName(params: RepoRef): string {
  validateRepoId({ repoId: params.repoId });
  return `${params.repoType}s--${params.repoId.split('/').join('--')}`;
}

/** The inverse of `repoFolderName`; undefined for folders that are not repos. */
export function parseRepoFolderName(params: { name: string }): RepoRef | undefined {
  const parts = params.name.split('--');
  if (parts.length < 2 || parts.length > 3) return undefined;
  const typePart = parts[0] as string;
  if (!typePart.endsWith('s')) return undefined;
  const repoType = typePart.slice(0, -1);
  if (!isRepoType(repoType)) return undefined;
  const repoId = parts.slice(1).join('/');
  try {
    validateRepoId({ repoId });
  } catch {
    return undefined;
  }
  return { repoType, repoId };
}

/**
 * Parses what users type: `org/name`, `model/org/name`, `dataset/org/name`,
 * `datasets/org/name`, or a cache folder name `models--org--name`.
 */
export function parseRepoSpec(params: { spec: string; defaultType?: RepoType }): RepoRef {
  const { spec } = params;
  const fromFolder = parseRepoFolderName({ name: spec });
  if (fromFolder) return fromFolder;
  const parts = spec.split('/');
  if (parts.length === 3 || (parts.length === 2 && isTypeWord(parts[0] as string) && !params.defaultType)) {
    const head = parts[0] as string;
    if (isTypeWord(head) && parts.length === 3) {
      const repoType = parseRepoType({ value: head });
      const repoId = parts.slice(1).join('/');
      validateRepoId({ repoId });
      return { repoType, repoId };
    }
  }
  validateRepoId({ repoId: spec });
  return { repoType: params.defaultType ?? 'model', repoId: spec };
}

function isTypeWord(word: string): boolean {
  return isRepoType(word) || (word.endsWith('s') && isRepoType(word.slice(0, -1)));
}

export function formatRepoRef(params: RepoRef): string {
  return params.repoType === 'model' ? params.repoId : `${params.repoType}/${params.repoId}`;
}
