/*
 * The download ring's two threads (src/cache/ringWriter.ts): a writer that
 * pwrites each filled slot at its offset and a hasher that feeds it to
 * sha256 or git-sha1 (OpenSSL, which Node exports to addons), both reading
 * the same slot memory, which JavaScript fills in place.
 *
 * Why threads here and not two worker_threads: a Worker costs 50-100 ms of
 * CPU and about as much wall time to boot (a V8 isolate and Node's bootstrap
 * each), twice per download, at the moment the first bytes arrive; and every
 * slot cost two postMessage round trips. These threads start in microseconds
 * and a slot costs one completion call back into JavaScript.
 *
 * Jobs (point at a file, a slot, finish the digest, stop) go to each thread's
 * queue in submission order; a job completes when every thread it was given
 * to is done with it, and only then is JavaScript told (one thread-safe call
 * per job), so a slot is reused only after both threads let go of it.
 * After a failure a thread skips its work until it is pointed at a file again,
 * as the caller gives up that attempt anyway.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ring.h"

/* 64 KiB per write, not a whole slot: on this VM a 1 GiB file written 1 MiB at a
 * time took 2.9-3.6 s when the page cache had to take memory the host had
 * reclaimed, 2.1-2.6 s in 64 KiB writes, and the same 1.7-1.9 s otherwise. */
#define WRITE_PIECE (64 * 1024)
#define PREFIX_READ (1024 * 1024)

enum kind { JOB_TARGET, JOB_SLOT, JOB_FINISH, JOB_STOP };
enum { ALGO_NONE = 0, ALGO_SHA256 = 1, ALGO_GIT_SHA1 = 2 };

typedef struct job {
  enum kind kind;
  double id;
  /* JOB_SLOT */
  uint32_t index, length;
  int64_t position;
  /* JOB_TARGET */
  char *path;
  int64_t prefix, size;
  int algorithm;
  /* Threads still to finish it; the last one posts the completion. */
  atomic_int pending;
  /* Filled by the thread that failed (writer first: it is the one JS reports). */
  int error;     /* errno, or -1 for `message` alone */
  char message[200];
  char digest[EVP_MAX_MD_SIZE * 2 + 1];
  struct job *next[2];
} job;

typedef struct queue {
  job *head, *tail;
  pthread_cond_t ready;
} queue;

typedef struct ring {
  uint8_t *memory;
  size_t slot_bytes;
  uint32_t slots;
  pthread_mutex_t lock;
  queue queues[2]; /* 0: writer, 1: hasher */
  napi_threadsafe_function done;
  /* Holders of this struct: the JS handle, the slots' ArrayBuffer, the threads (via the tsfn). */
  atomic_int refs;
  atomic_int stopping;
  /* Main thread only: jobs given but not completed (the loop is kept alive while any are). */
  uint32_t outstanding;
  /* Main thread only: the two threads, and whether they were joined (see join_threads). */
  pthread_t threads[2];
  int joined;
  /* Writer thread only. */
  int fd, write_error;
  /* Hasher thread only. */
  EVP_MD_CTX *md;
  int hashing, hash_error;
} ring;

static void ring_unref(ring *r) {
  if (atomic_fetch_sub(&r->refs, 1) != 1) return;
  pthread_mutex_destroy(&r->lock);
  for (int i = 0; i < 2; i++) pthread_cond_destroy(&r->queues[i].ready);
  if (r->md) EVP_MD_CTX_free(r->md);
  if (r->fd >= 0) close(r->fd);
  free(r->memory);
  free(r);
}

static void fail(job *j, int err, const char *what) {
  j->error = err;
  if (err > 0) snprintf(j->message, sizeof j->message, "%s, %s", strerror(err), what);
  else snprintf(j->message, sizeof j->message, "%s", what);
}

static void push(ring *r, int role, job *j) {
  queue *q = &r->queues[role];
  j->next[role] = NULL;
  if (q->tail) q->tail->next[role] = j;
  else q->head = j;
  q->tail = j;
  pthread_cond_signal(&q->ready);
}

static job *pop(ring *r, int role) {
  queue *q = &r->queues[role];
  pthread_mutex_lock(&r->lock);
  while (q->head == NULL) pthread_cond_wait(&q->ready, &r->lock);
  job *j = q->head;
  q->head = j->next[role];
  if (q->head == NULL) q->tail = NULL;
  pthread_mutex_unlock(&r->lock);
  return j;
}

static void complete(ring *r, job *j) {
  if (atomic_fetch_sub(&j->pending, 1) == 1) napi_call_threadsafe_function(r->done, j, napi_tsfn_blocking);
}

static void write_job(ring *r, job *j) {
  if (j->kind == JOB_TARGET) {
    if (r->fd >= 0) close(r->fd);
    r->write_error = 0;
    r->fd = open(j->path, O_WRONLY | O_CLOEXEC);
    if (r->fd < 0) {
      r->write_error = errno;
      fail(j, errno, "open");
    }
    return;
  }
  if (j->kind != JOB_SLOT) return;
  if (r->write_error || atomic_load(&r->stopping)) {
    fail(j, r->write_error ? r->write_error : -1, r->write_error ? "write" : "the download writer stopped");
    return;
  }
  const uint8_t *bytes = r->memory + (size_t)j->index * r->slot_bytes;
  uint32_t written = 0;
  while (written < j->length) {
    uint32_t piece = j->length - written < WRITE_PIECE ? j->length - written : WRITE_PIECE;
    ssize_t n = pwrite(r->fd, bytes + written, piece, j->position + written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      /* A write that returns 0 is a full device that did not say so. */
      r->write_error = n < 0 ? errno : ENOSPC;
      fail(j, r->write_error, "write");
      return;
    }
    written += (uint32_t)n;
  }
}

static int hash_prefix(ring *r, job *j) {
  int fd = open(j->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fail(j, errno, "open");
    return -1;
  }
  uint8_t *buffer = malloc(PREFIX_READ);
  int64_t done = 0;
  int ok = buffer != NULL;
  if (!ok) fail(j, ENOMEM, "read");
  while (ok && done < j->prefix) {
    size_t want = j->prefix - done < PREFIX_READ ? (size_t)(j->prefix - done) : PREFIX_READ;
    ssize_t n = pread(fd, buffer, want, done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      fail(j, errno, "read");
      ok = 0;
    } else if (n == 0) {
      fail(j, -1, "partial file shorter than its recorded progress");
      ok = 0;
    } else {
      EVP_DigestUpdate(r->md, buffer, (size_t)n);
      done += n;
    }
  }
  free(buffer);
  close(fd);
  return ok ? 0 : -1;
}

static void hash_job(ring *r, job *j) {
  if (j->kind == JOB_TARGET) {
    r->hash_error = 0;
    r->hashing = j->algorithm != ALGO_NONE;
    if (!r->hashing) return;
    const EVP_MD *md = j->algorithm == ALGO_SHA256 ? EVP_sha256() : EVP_sha1();
    if (!EVP_DigestInit_ex(r->md, md, NULL)) {
      r->hash_error = -1;
      fail(j, -1, "the hash could not be started");
      return;
    }
    if (j->algorithm == ALGO_GIT_SHA1) {
      /* git's blob id: sha1 over "blob <size>\0" then the bytes. */
      char header[48];
      int n = snprintf(header, sizeof header, "blob %lld", (long long)j->size);
      EVP_DigestUpdate(r->md, header, (size_t)n + 1);
    }
    if (j->prefix > 0 && hash_prefix(r, j) != 0) r->hash_error = j->error;
    return;
  }
  if (j->kind == JOB_SLOT) {
    if (r->hash_error || atomic_load(&r->stopping)) fail(j, r->hash_error ? r->hash_error : -1, r->hash_error ? "hash" : "the download hasher stopped");
    else if (r->hashing) EVP_DigestUpdate(r->md, r->memory + (size_t)j->index * r->slot_bytes, j->length);
    return;
  }
  if (j->kind == JOB_FINISH) {
    if (r->hash_error) {
      fail(j, r->hash_error, "hash");
      return;
    }
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (!r->hashing || !EVP_DigestFinal_ex(r->md, raw, &length)) return;
    for (unsigned int i = 0; i < length; i++) snprintf(j->digest + 2 * i, 3, "%02x", raw[i]);
    r->hashing = 0;
  }
}

typedef struct thread_start {
  ring *r;
  int role;
} thread_start;

static void *run(void *arg) {
  thread_start start = *(thread_start *)arg;
  free(arg);
  ring *r = start.r;
  for (;;) {
    job *j = pop(r, start.role);
    if (j->kind == JOB_STOP) {
      if (start.role == 0 && r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
      }
      complete(r, j);
      break;
    }
    if (start.role == 0) write_job(r, j);
    else hash_job(r, j);
    complete(r, j);
  }
  napi_release_threadsafe_function(r->done, napi_tsfn_release);
  return NULL;
}

/*
 * Main thread: waits for both threads to return. Called once their last job (JOB_STOP) is
 * completed, so the wait is for a thread's last step after it posted that completion: releasing
 * the threadsafe function. Without the join, JS could learn of the close, let the process exit,
 * and have Node free the threadsafe function while a thread was still releasing it (a crash at
 * exit under load: a `backup` exited on a signal once in CI).
 */
static void join_threads(ring *r) {
  if (r->joined) return;
  r->joined = 1;
  for (int role = 0; role < 2; role++) pthread_join(r->threads[role], NULL);
}

/* Main thread: hands a completed job to the JS callback (id, errno, message, digest). */
static void call_js(napi_env env, napi_value callback, void *context, void *data) {
  ring *r = context;
  job *j = data;
  if (env == NULL) {
    /* Jobs left in the queue while Node tears the threadsafe function down: the ring may be freed already. */
    free(j->path);
    free(j);
    return;
  }
  if (j->kind == JOB_STOP) join_threads(r);
  if (r->outstanding > 0 && --r->outstanding == 0) napi_unref_threadsafe_function(env, r->done);
  if (env != NULL && callback != NULL) {
    napi_value argv[4], undefined;
    napi_get_undefined(env, &undefined);
    napi_create_double(env, j->id, &argv[0]);
    if (j->error != 0) {
      napi_create_int32(env, j->error, &argv[1]);
      napi_create_string_utf8(env, j->message, NAPI_AUTO_LENGTH, &argv[2]);
    } else {
      argv[1] = undefined;
      argv[2] = undefined;
    }
    if (j->digest[0]) napi_create_string_utf8(env, j->digest, NAPI_AUTO_LENGTH, &argv[3]);
    else argv[3] = undefined;
    napi_call_function(env, undefined, callback, 4, argv, NULL);
  }
  free(j->path);
  free(j);
}

static void stop_threads(ring *r);

static void tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ring *r = data;
  /* Node is closing it (the process exits) with the threads maybe still running: stop them and
     wait, so none touches the ring or the threadsafe function once they are freed. */
  stop_threads(r);
  join_threads(r);
  ring_unref(r);
}

static void memory_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  ring_unref(hint);
}

static void give(ring *r, job *j, int writer, int hasher) {
  atomic_init(&j->pending, writer + hasher);
  pthread_mutex_lock(&r->lock);
  if (writer) push(r, 0, j);
  if (hasher) push(r, 1, j);
  pthread_mutex_unlock(&r->lock);
}

static void stop_threads(ring *r) {
  if (atomic_exchange(&r->stopping, 1)) return;
  job *j = calloc(1, sizeof *j);
  if (j == NULL) return;
  j->kind = JOB_STOP;
  j->id = -1;
  give(r, j, 1, 1);
}

static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ring *r = data;
  /* Dropped without close(): the threads still end, and the memory goes with its last holder. */
  stop_threads(r);
  ring_unref(r);
}

static ring *get_ring(napi_env env, napi_value value) {
  void *data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "not a ring");
    return NULL;
  }
  return data;
}

/* ringCreate(slots, slotBytes, onDone) -> [handle, ArrayBuffer of slots * slotBytes] */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], handle, memory, result, name;
  uint32_t slots, slot_bytes;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 3 || napi_get_value_uint32(env, argv[0], &slots) != napi_ok || napi_get_value_uint32(env, argv[1], &slot_bytes) != napi_ok ||
      slots == 0 || slot_bytes == 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "ringCreate(slots, slotBytes, onDone)");
    return NULL;
  }
  ring *r = calloc(1, sizeof *r);
  if (r == NULL || (r->memory = malloc((size_t)slots * slot_bytes)) == NULL || (r->md = EVP_MD_CTX_new()) == NULL) {
    if (r) {
      free(r->memory);
      free(r);
    }
    napi_throw_error(env, "ENOMEM", "out of memory for the download ring");
    return NULL;
  }
  r->slots = slots;
  r->slot_bytes = slot_bytes;
  r->fd = -1;
  pthread_mutex_init(&r->lock, NULL);
  for (int i = 0; i < 2; i++) pthread_cond_init(&r->queues[i].ready, NULL);
  /* One ref for the JS handle, one for the ArrayBuffer, one for the threads' tsfn. */
  atomic_init(&r->refs, 3);
  napi_create_string_utf8(env, "hubcache-ring", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 2, r, tsfn_finalize, r, call_js, &r->done) != napi_ok) {
    atomic_store(&r->refs, 1);
    ring_unref(r);
    napi_throw_error(env, NULL, "could not create the ring's callback");
    return NULL;
  }
  /* Idle rings do not keep the process alive; pending jobs do (see js_submit). */
  napi_unref_threadsafe_function(env, r->done);
  for (int role = 0; role < 2; role++) {
    pthread_t thread;
    thread_start *start = malloc(sizeof *start);
    if (start) {
      start->r = r;
      start->role = role;
    }
    if (start == NULL || pthread_create(&thread, NULL, run, start) != 0) {
      /* Cannot happen short of exhausted resources; the process is in no state to go on. */
      napi_fatal_error("hubcache ring", NAPI_AUTO_LENGTH, "could not start a ring thread", NAPI_AUTO_LENGTH);
    }
    r->threads[role] = thread;
  }
  napi_create_external(env, r, handle_finalize, NULL, &handle);
  napi_create_external_arraybuffer(env, r->memory, (size_t)slots * slot_bytes, memory_finalize, r, &memory);
  napi_create_array_with_length(env, 2, &result);
  napi_set_element(env, result, 0, handle);
  napi_set_element(env, result, 1, memory);
  return result;
}

/* A zeroed job of `kind` for the caller's `id`; NULL (with a JS error thrown) when out of memory. */
static job *new_job(napi_env env, enum kind kind, double id) {
  job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  j->kind = kind;
  j->id = id;
  return j;
}

/* Main thread: hands `j` to the writer and/or the hasher; the process stays alive until it completes. */
static void queue_job(napi_env env, ring *r, job *j, int writer, int hasher) {
  if (r->outstanding++ == 0) napi_ref_threadsafe_function(env, r->done);
  give(r, j, writer, hasher);
}

static int read_double(napi_env env, napi_value value, double *out) {
  return napi_get_value_double(env, value, out) == napi_ok;
}

/* The arguments every entry point starts with, (handle, id, ...): the ring, or NULL with a JS error thrown. */
static ring *ring_call(napi_env env, napi_callback_info info, size_t want, napi_value *argv, double *id, const char *usage) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  ring *r = argc == want ? get_ring(env, argv[0]) : NULL;
  if (r == NULL) return NULL;
  if (!read_double(env, argv[1], id)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  return r;
}

/* ringTarget(handle, id, path, prefix, algorithm, size): both threads point at the file. */
static napi_value js_target(napi_env env, napi_callback_info info) {
  static const char usage[] = "ringTarget(handle, id, path, prefix, algorithm, size)";
  napi_value argv[6];
  size_t length = 0;
  double id, prefix, size;
  int32_t algorithm;
  ring *r = ring_call(env, info, 6, argv, &id, usage);
  if (r == NULL) return NULL;
  if (napi_get_value_string_utf8(env, argv[2], NULL, 0, &length) != napi_ok || !read_double(env, argv[3], &prefix) ||
      napi_get_value_int32(env, argv[4], &algorithm) != napi_ok || !read_double(env, argv[5], &size)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  char *path = malloc(length + 1);
  if (path == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  job *j = new_job(env, JOB_TARGET, id);
  if (j == NULL) {
    free(path);
    return NULL;
  }
  napi_get_value_string_utf8(env, argv[2], path, length + 1, &length);
  j->path = path;
  j->prefix = (int64_t)prefix;
  j->size = (int64_t)size;
  j->algorithm = algorithm;
  queue_job(env, r, j, 1, 1);
  return NULL;
}

/* ringSubmit(handle, id, index, length, position): the slot's first `length` bytes belong at `position`. */
static napi_value js_submit(napi_env env, napi_callback_info info) {
  static const char usage[] = "ringSubmit(handle, id, index, length, position): out of range";
  napi_value argv[5];
  double id, position;
  uint32_t index, length;
  ring *r = ring_call(env, info, 5, argv, &id, usage);
  if (r == NULL) return NULL;
  if (napi_get_value_uint32(env, argv[2], &index) != napi_ok || napi_get_value_uint32(env, argv[3], &length) != napi_ok ||
      !read_double(env, argv[4], &position) || index >= r->slots || length > r->slot_bytes || position < 0) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", usage);
    return NULL;
  }
  job *j = new_job(env, JOB_SLOT, id);
  if (j == NULL) return NULL;
  j->index = index;
  j->length = length;
  j->position = (int64_t)position;
  queue_job(env, r, j, 1, 1);
  return NULL;
}

/* ringFinish(handle, id): the digest of everything hashed since the target, to the callback. */
static napi_value js_finish(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  double id;
  ring *r = ring_call(env, info, 2, argv, &id, "ringFinish(handle, id)");
  job *j = r == NULL ? NULL : new_job(env, JOB_FINISH, id);
  if (j == NULL) return NULL;
  queue_job(env, r, j, 0, 1);
  return NULL;
}

/* ringClose(handle, id): jobs still queued fail; the callback for `id` comes once both threads ended. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  double id;
  ring *r = ring_call(env, info, 2, argv, &id, "ringClose(handle, id)");
  job *j = r == NULL ? NULL : new_job(env, JOB_STOP, id);
  if (j == NULL) return NULL;
  if (atomic_exchange(&r->stopping, 1)) {
    free(j);
    napi_throw_error(env, NULL, "ring already closed");
    return NULL;
  }
  queue_job(env, r, j, 1, 1);
  return NULL;
}

int ring_init(napi_env env, napi_value exports) {
  struct {
    const char *name;
    napi_callback fn;
  } fns[] = {{"ringCreate", js_create}, {"ringTarget", js_target}, {"ringSubmit", js_submit}, {"ringFinish", js_finish}, {"ringClose", js_close}};
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &fn) != napi_ok ||
        napi_set_named_property(env, exports, fns[i].name, fn) != napi_ok)
      return 0;
  }
  return 1;
}
