/** What `hubcache compose check` reports: findings with their file position, and the result. */
import type { Manifest } from '../manifest/manifest.js';
import type { ComposeFile } from './parseComposeFile.js';

export type ComposeFindingCode =
  | 'no-cache-volume'
  | 'mount-path-differs'
  | 'different-cache-volume'
  | 'hf-home-unset'
  | 'hf-home-outside-mount'
  | 'hf-home-differs'
  | 'hf-home-without-mount'
  | 'env-value-unknown'
  | 'manifest-service-missing'
  | 'manifest-service-not-mounted'
  | 'manifest-hf-home-differs'
  | 'snapshot-not-a-commit'
  | 'snapshot-commit-path'
  | 'link-not-declared'
  | 'env-file-missing'
  | 'path-unresolved'
  | 'paths-not-checked'
  | 'no-manifest';

export interface ComposeFinding {
  code: ComposeFindingCode;
  /** Problems make the check fail; notes are context. */
  severity: 'problem' | 'note';
  service: string | undefined;
  file: string;
  line: number;
  column: number;
  message: string;
  fix: string | undefined;
}

export interface CheckComposeParams {
  compose: ComposeFile;
  manifest?: Manifest | undefined;
  /** Local folder holding the volume's HF_HOME content, to check that paths resolve. */
  localHfHome?: string | undefined;
  /** The cache volume's name, when the file does not make it clear. */
  volume?: string | undefined;
}

export interface ComposeCheckResult {
  file: string;
  cacheVolume: { key: string; label: string; target: string | undefined; services: string[] } | undefined;
  findings: ComposeFinding[];
  problems: number;
  notes: number;
}
