/** The shared store's defaults, apart from the modules that load the AWS SDK (the public API re-exports them). */

/** Parts of a fill: every replica of a store must cut a blob at the same offsets. */
export const DEFAULT_PART_SIZE = 16 * 1024 * 1024;
/** A filler that stops renewing its lease this long is taken over. */
export const DEFAULT_LEASE_TTL_MS = 15_000;
