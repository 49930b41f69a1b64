/** What every doctor check produces: a finding (path, why, fix) and, when it can be fixed safely, the fix. */

export type DoctorCode =
  | 'wrong-group'
  | 'group-access'
  | 'missing-setgid'
  | 'lock-not-group-writable'
  | 'hard-linked-outside'
  | 'absolute-link'
  | 'copy-of-blob'
  | 'ref-missing-snapshot'
  | 'dangling-link'
  | 'partial-file'
  | 'missing-cachedir-tag'
  | 'unreadable';

export interface DoctorFinding {
  code: DoctorCode;
  path: string;
  /** Why it matters for a shared cache. */
  why: string;
  /** The exact shell command, or what to do when no command does it. */
  fix: string;
  /** `--fix` can apply it. */
  fixable: boolean;
}

export interface DoctorCheck {
  finding: DoctorFinding;
  /** Applies the fix and says what changed (e.g. "mode 0600 -> 0660"). */
  apply?: () => Promise<string>;
}

export function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

/** Single-quotes a path for a shell command. */
export function quote(path: string): string {
  return /^[A-Za-z0-9_./:=+-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}
