/**
 * How a blob is cut into parts in the store: at fixed offsets, every part `partSize` long but the
 * last. Every filler of a blob cuts it the same way, so parts from any of them line up.
 */

export function partCount(params: { size: number; partSize: number }): number {
  return Math.max(1, Math.ceil(params.size / params.partSize));
}

export function partLength(params: { size: number; partSize: number; index: number }): number {
  return Math.min(params.partSize, params.size - params.index * params.partSize);
}
