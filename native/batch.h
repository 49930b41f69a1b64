/*
 * What the native scans (listTree.c, repoSummary.c) share: a batch of jobs
 * run on a few threads, and reading a JavaScript string array into C paths.
 */
#ifndef HUBCACHE_BATCH_H
#define HUBCACHE_BATCH_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <stddef.h>

/* At most this many threads per batch (this one included). */
#define BATCH_MAX_THREADS 8

/*
 * Runs `run_one` on each of `count` jobs of `job_size` bytes, on up to
 * `threads` threads (the calling one included); returns when all are done.
 */
void run_batch(void *jobs, size_t count, size_t job_size, void (*run_one)(void *job), int threads);

/*
 * Element `i` of `array` as a malloc'd C string, or NULL with a JavaScript
 * exception pending (`type_message` for a non-string, `oom_message` when out
 * of memory). `*has_nul` is set when the string holds a NUL, which no path
 * can: the caller leaves that one to the JavaScript code.
 */
char *batch_path_at(napi_env env, napi_value array, uint32_t i, const char *type_message, const char *oom_message, int *has_nul);

#endif
