/**
 * A delay that an AbortSignal cuts short, rejecting with the signal's own
 * reason (timers/promises would reject with a generic AbortError, and callers
 * expect the reason they aborted with, such as E_ABORTED on Ctrl-C).
 */
export function sleep(params: { ms: number; signal?: AbortSignal | undefined }): Promise<void> {
  const { ms, signal } = params;
  return new Promise((resolve, reject) => {
    // An abort that fired while the caller was busy elsewhere sends no further event.
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
