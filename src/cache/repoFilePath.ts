/**
 * File paths inside a repo come from users, manifests, servers and archives.
 * Any of them may try to climb out of the snapshot folder, so every path is
 * checked here before it is joined to a folder on disk.
 */
import { HubcacheError } from '../errors.js';
import { quoteInput } from '../quoteInput.js';

export function repoFilePathProblem(params: { path: string }): string | undefined {
  const { path } = params;
  if (typeof path !== 'string' || path.length === 0) return 'it is empty';
  if (path.includes('\0')) return 'it contains a NUL byte';
  if (path.includes('\\')) return 'it contains a backslash';
  if (path.startsWith('/')) return 'it is absolute';
  if (/^[A-Za-z]:/.test(path)) return 'it has a drive letter';
  for (const segment of path.split('/')) {
    if (segment === '') return 'it has an empty segment ("//" or a trailing "/")';
    if (segment === '..') return 'it climbs out of its folder ("..")';
    if (segment === '.') return 'it has a "." segment';
  }
  if (path.length > 4096) return 'it is longer than 4096 characters';
  return undefined;
}

/** Throws E_INVALID_PATH when the path is not a plain relative POSIX path. */
export function validateRepoFilePath(params: { path: string; what?: string }): void {
  const problem = repoFilePathProblem({ path: params.path });
  if (problem) {
    throw new HubcacheError({
      code: 'E_INVALID_PATH',
      message: `Invalid ${params.what ?? 'file path'} ${quoteInput(params.path)}: ${problem}`,
      hint: 'Use a path relative to the repo root, like "onnx/model.onnx".',
      data: { path: params.path },
    });
  }
}
