/** URLs of the Hub HTTP API (as huggingface_hub builds them), with each part encoded the way huggingface_hub does. */
import type { RepoRef } from '../cache/repoId.js';

function typePrefix(repoType: RepoRef['repoType']): string {
  return repoType === 'model' ? '' : `${repoType}s/`;
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** `{endpoint}/{datasets/}{repo}/resolve/{revision}/{path}`; the revision is fully encoded (`refs%2Fpr%2F1`). */
export function resolveUrl(params: RepoRef & { endpoint: string; revision: string; path: string }): string {
  return `${params.endpoint}/${typePrefix(params.repoType)}${params.repoId}/resolve/${encodeURIComponent(params.revision)}/${encodePath(params.path)}`;
}

/** `{endpoint}/api/{type}s/{repo}/revision/{revision}` */
export function revisionInfoUrl(params: RepoRef & { endpoint: string; revision: string }): string {
  return `${params.endpoint}/api/${params.repoType}s/${params.repoId}/revision/${encodeURIComponent(params.revision)}`;
}

