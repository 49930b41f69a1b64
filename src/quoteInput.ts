/**
 * The one way an error message quotes what the user typed (or what a file
 * held): in double quotes, control characters escaped, and cut to a length a
 * terminal line can show. A 5000-character argument or one with newlines or
 * escape sequences must not flood or repaint the terminal.
 */

const MAX_CHARS = 80;

/** `"value"`, or `"first 80 chars…" (5000 characters)` when longer. */
export function quoteInput(value: string, maxChars: number = MAX_CHARS): string {
  const length = [...value].length;
  return length > maxChars ? `"${escapeInput(value, maxChars)}" (${length} characters)` : `"${escapeInput(value, maxChars)}"`;
}

/**
 * The same rule without the quotes, for text that already embeds the input
 * (the argument parser's own messages): control characters escaped, cut at
 * `maxChars` with a trailing "…".
 */
export function escapeInput(value: string, maxChars: number = MAX_CHARS): string {
  const chars = [...value];
  const cut = chars.length > maxChars;
  const escaped = JSON.stringify(cut ? chars.slice(0, maxChars).join('') : value)
    .slice(1, -1)
    // JSON leaves DEL and the C1 controls (8-bit terminal sequences) raw.
    // eslint-disable-next-line no-control-regex
    .replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return cut ? `${escaped}…` : escaped;
}
