/** Commander reducer for repeatable options (`--keep a --keep b`): every value, in order. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
