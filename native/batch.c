/* See batch.h. */
#include "batch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char *jobs;
  size_t count;
  size_t job_size;
  void (*run_one)(void *job);
  size_t next; /* the next job to take, shared by the threads */
} batch_t;

static void *run_jobs(void *arg) {
  batch_t *batch = arg;
  size_t i;
  while ((i = __atomic_fetch_add(&batch->next, 1, __ATOMIC_RELAXED)) < batch->count) batch->run_one(batch->jobs + i * batch->job_size);
  return NULL;
}

void run_batch(void *jobs, size_t count, size_t job_size, void (*run_one)(void *job), int threads) {
  batch_t batch = {jobs, count, job_size, run_one, 0};
  pthread_t helpers[BATCH_MAX_THREADS];
  int started = 0;
  if (threads > BATCH_MAX_THREADS) threads = BATCH_MAX_THREADS;
  for (int t = 1; t < threads && (size_t)t < count; t++) {
    /* A helper that cannot start leaves its share to the others. */
    if (pthread_create(&helpers[started], NULL, run_jobs, &batch) == 0) started++;
  }
  run_jobs(&batch);
  for (int t = 0; t < started; t++) pthread_join(helpers[t], NULL);
}

char *batch_path_at(napi_env env, napi_value array, uint32_t i, const char *type_message, const char *oom_message, int *has_nul) {
  napi_value item;
  size_t len = 0;
  if (napi_get_element(env, array, i, &item) != napi_ok || napi_get_value_string_utf8(env, item, NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", type_message);
    return NULL;
  }
  char *path = malloc(len + 1);
  if (!path) {
    napi_throw_error(env, "ENOMEM", oom_message);
    return NULL;
  }
  napi_get_value_string_utf8(env, item, path, len + 1, &len);
  *has_nul = strlen(path) != len;
  return path;
}
