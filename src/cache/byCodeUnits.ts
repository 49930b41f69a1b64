/** Plain code-unit order for sort(): localeCompare cost more than a whole scan's walk on 20k files. */
export function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
