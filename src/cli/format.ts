/** Human formatting and parsing of sizes and times, shared by every command. */
import { HubcacheError } from '../errors.js';
import { quoteInput } from '../quoteInput.js';

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** Decimal units, as `hf cache ls` and `du --si` show them. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '?';
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

const SIZE_RE = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?i?b?)?\s*$/i;

/** `500M`, `1.5GB`, `2GiB`, `1000` (bytes). Decimal for kB/MB/GB, binary for KiB/MiB/GiB. */
export function parseSize(params: { text: string; what?: string }): number {
  const match = SIZE_RE.exec(params.text);
  if (!match) {
    throw new HubcacheError({
      code: 'E_USAGE',
      message: `Invalid ${params.what ?? 'size'} ${quoteInput(params.text)}`,
      hint: 'Use a number with an optional unit, like 500MB, 20G, 1.5TiB.',
    });
  }
  const value = Number(match[1]);
  const unit = (match[2] ?? '').toLowerCase();
  const letter = unit.replace(/i?b?$/, '');
  const binary = unit.includes('i');
  const power = ['', 'k', 'm', 'g', 't', 'p'].indexOf(letter);
  return Math.round(value * (binary ? 1024 : 1000) ** Math.max(0, power));
}

/** "3 days ago", "just now". */
export function formatAge(params: { ms: number; now?: number }): string {
  if (!params.ms) return 'never';
  const seconds = Math.max(0, ((params.now ?? Date.now()) - params.ms) / 1000);
  const steps: Array<[number, string]> = [
    [60, 'second'],
    [60, 'minute'],
    [24, 'hour'],
    [7, 'day'],
    [4.35, 'week'],
    [12, 'month'],
    [Infinity, 'year'],
  ];
  let value = seconds;
  for (const [size, name] of steps) {
    if (value < size) {
      const n = Math.floor(value);
      if (name === 'second' && n < 10) return 'just now';
      return `${n} ${name}${n === 1 ? '' : 's'} ago`;
    }
    value /= size;
  }
  return 'long ago';
}

const DURATION_RE = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w|mo|y)\s*$/i;

/** `30d`, `12h`, `2w` -> milliseconds; a bare `0` is zero in any unit. */
export function parseDuration(params: { text: string }): number {
  if (/^\s*0+(?:\.0+)?\s*$/.test(params.text)) return 0;
  const match = DURATION_RE.exec(params.text);
  if (!match) {
    throw new HubcacheError({ code: 'E_USAGE', message: `Invalid duration ${quoteInput(params.text)}`, hint: 'Use a number and a unit: 30s, 15m, 12h, 7d, 2w, 3mo, 1y.' });
  }
  const unitMs: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3, mo: 30 * 86400e3, y: 365 * 86400e3 };
  return Number(match[1]) * (unitMs[(match[2] as string).toLowerCase()] as number);
}

export function formatDuration(params: { seconds: number }): string {
  const s = Math.max(0, Math.round(params.seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
