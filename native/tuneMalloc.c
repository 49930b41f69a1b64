/*
 * tuneMalloc(): makes glibc keep freed memory for reuse instead of handing it
 * back to the kernel at once, for the long-running `serve`.
 *
 * Why: the mirror streams files in 1 MiB Buffers (spool and cache reads, part
 * buffers), each a fresh malloc that the GC frees soon after. glibc's defaults
 * give such chunks back (munmap, or a heap trim once 128 KiB-2 MiB sit free at
 * the top), so the next ones fault in fresh pages: on this project's KVM test
 * machine, reading 1 GiB into fresh 1 MiB Buffers cost 1.7-1.9 s of CPU against
 * 0.22-0.28 s into one reused Buffer. With chunks up to 32 MiB served from the
 * heap and up to 64 MiB kept free at its top, the same reads cost 0.33-0.51 s.
 * Peak memory is unchanged (the same Buffers are live at once); only what is
 * returned to the kernel after a peak changes, by at most the trim threshold.
 *
 * Not glibc (musl, macOS): a no-op that says so (returns false).
 */
#define NAPI_VERSION 8
#include <node_api.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "tuneMalloc.h"

#define MMAP_THRESHOLD (32 * 1024 * 1024)
#define TRIM_THRESHOLD (64 * 1024 * 1024)

static napi_value js_tune_malloc(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  int tuned = 0;
#ifdef __GLIBC__
  tuned = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 && mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1;
#endif
  napi_get_boolean(env, tuned, &result);
  return result;
}

int tune_malloc_init(napi_env env, napi_value exports) {
  napi_value fn;
  return napi_create_function(env, "tuneMalloc", NAPI_AUTO_LENGTH, js_tune_malloc, NULL, &fn) == napi_ok &&
         napi_set_named_property(env, exports, "tuneMalloc", fn) == napi_ok;
}
