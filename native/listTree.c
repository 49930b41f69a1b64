/*
 * The cache scan's system calls, batched: one call lists the blobs/ folders
 * (an lstat per entry) or the snapshots/ folders (recursively; readlink per
 * link, lstat per regular file) of many repos, on a few threads. The rules
 * (what a link means, what is a warning) stay in JavaScript
 * (src/cache/dirListing.ts and its callers); this only replaces 30k fs calls
 * from JavaScript, each with its own path walk from the root, by
 * readlinkat/fstatat relative to an open folder.
 *
 * Same answers as Node's readdirSync/lstatSync/readlinkSync, or none at all:
 * whenever the JavaScript walker would do something this does not reproduce
 * (an error message, a name that is not UTF-8, which Node would mangle), it
 * gives undefined for that folder and the caller walks it in JavaScript.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "listTree.h"

/* Entry kinds; src/cache/dirListing.ts names the same numbers. */
enum { K_FILE = 0, K_LINK = 1, K_OTHER = 2, K_FILE_GONE = 3, K_LINK_GONE = 4, K_DIR = 5 };

/* Deeper than any model repo; past it the JavaScript walker (unbounded) takes over. */
#define MAX_DEPTH 64

typedef struct {
  char *data;
  size_t len, cap;
} buf_t;

typedef struct {
  buf_t text;    /* per entry: relative path NUL target NUL (target empty unless a link) */
  buf_t kinds;   /* one byte per entry */
  buf_t numbers; /* three doubles per entry: size, atimeMs, mtimeMs (lstat; 0 when not read) */
  char rel[PATH_MAX]; /* the current folder's path inside the listed one, "" at its top */
  size_t rel_len;
  int recursive; /* 1: snapshot mode (d_type, recurse); 0: blobs mode (flat, lstat every entry) */
  const char *skip; /* a name the JavaScript walker ignores (".DS_Store"), or NULL */
  int failed;    /* errno that stopped the walk: the JavaScript walker lists the folder (ENOMEM: throw) */
} walk_t;

typedef struct {
  char *name;
  unsigned char type;
} dent_t;

static int buf_put(buf_t *b, const void *src, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data) return -1;
    b->data = data;
    b->cap = cap;
  }
  memcpy(b->data + b->len, src, n);
  b->len += n;
  return 0;
}

/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF): what V8 decodes without U+FFFD. */
static int valid_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return 0;
    if (i + len > n) return 0;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      return 0;
    i += len;
  }
  return 1;
}

/* Node's Stats: `sec * 1000 + nsec / 1e6` in doubles, so the same numbers come out. */
static double ms_of(struct timespec t) { return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1000000.0; }

static void fail(walk_t *w, int why) {
  if (!w->failed) w->failed = why ? why : EIO;
}

static void emit(walk_t *w, const char *name, int kind, const char *target, size_t target_len, const struct stat *st) {
  double numbers[3] = {0, 0, 0};
  unsigned char k = (unsigned char)kind;
  if (st) {
    numbers[0] = (double)st->st_size;
    numbers[1] = ms_of(st->st_atim);
    numbers[2] = ms_of(st->st_mtim);
  }
  if ((w->rel_len && (buf_put(&w->text, w->rel, w->rel_len) || buf_put(&w->text, "/", 1))) ||
      buf_put(&w->text, name, strlen(name) + 1) || buf_put(&w->text, target, target_len) || buf_put(&w->text, "", 1) ||
      buf_put(&w->kinds, &k, 1) || buf_put(&w->numbers, numbers, sizeof numbers))
    fail(w, ENOMEM);
}

static int by_name(const void *a, const void *b) { return strcmp(((const dent_t *)a)->name, ((const dent_t *)b)->name); }

/* Reads a folder's entries, sorted by bytes as libuv's scandir (behind readdirSync) sorts them. */
static dent_t *read_entries(walk_t *w, DIR *dir, size_t *count) {
  dent_t *list = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  for (;;) {
    errno = 0;
    e = readdir(dir);
    if (!e) break;
    if (e->d_name[0] == '.' && (e->d_name[1] == 0 || (e->d_name[1] == '.' && e->d_name[2] == 0))) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      dent_t *grown = realloc(list, cap * sizeof *list);
      if (!grown) { fail(w, ENOMEM); break; }
      list = grown;
    }
    list[n].name = strdup(e->d_name);
    if (!list[n].name) { fail(w, ENOMEM); break; }
    list[n].type = e->d_type;
    n++;
  }
  if (!e && errno) fail(w, errno);
  qsort(list, n, sizeof *list, by_name);
  *count = n;
  return list;
}

static void walk(walk_t *w, int fd, int depth);

static void visit(walk_t *w, int fd, const dent_t *d, int depth) {
  struct stat st;
  size_t name_len = strlen(d->name);
  if (!valid_utf8((const unsigned char *)d->name, name_len)) { fail(w, EILSEQ); return; }
  if (!w->recursive) {
    /* blobs/: the kind is the lstat's, as readRepoBlobs reads it; a failed lstat is an entry gone since readdir. */
    if (fstatat(fd, d->name, &st, AT_SYMLINK_NOFOLLOW) != 0) { emit(w, d->name, K_FILE_GONE, "", 0, NULL); return; }
    int kind = S_ISREG(st.st_mode) ? K_FILE : S_ISLNK(st.st_mode) ? K_LINK : K_OTHER;
    emit(w, d->name, kind, "", 0, &st);
    return;
  }
  if (w->skip && strcmp(d->name, w->skip) == 0) return;
  unsigned char type = d->type;
  if (type == DT_UNKNOWN) {
    /* Some filesystems give no type in readdir; Node then lstats, and so do we. */
    if (fstatat(fd, d->name, &st, AT_SYMLINK_NOFOLLOW) != 0) { fail(w, errno); return; }
    type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : S_ISREG(st.st_mode) ? DT_REG : DT_FIFO;
  }
  if (type == DT_DIR) {
    /* The folder's own entry first, then its entries (depth first, as the JavaScript walker lists them). */
    emit(w, d->name, K_DIR, "", 0, NULL);
    int child = openat(fd, d->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (child < 0) {
      /* Gone since readdir: the JavaScript walker also lists it as empty. Other errors are warnings it words. */
      if (errno != ENOENT) fail(w, errno);
      return;
    }
    size_t saved = w->rel_len;
    if (saved + (saved ? 1 : 0) + name_len >= sizeof w->rel || depth + 1 > MAX_DEPTH) {
      close(child);
      fail(w, ENAMETOOLONG);
      return;
    }
    if (saved) w->rel[w->rel_len++] = '/';
    memcpy(w->rel + w->rel_len, d->name, name_len + 1);
    w->rel_len += name_len;
    walk(w, child, depth + 1);
    w->rel_len = saved;
    w->rel[saved] = 0;
    return;
  }
  if (type == DT_LNK) {
    char target[PATH_MAX];
    ssize_t n = readlinkat(fd, d->name, target, sizeof target);
    if (n < 0) { emit(w, d->name, K_LINK_GONE, "", 0, NULL); return; }
    if ((size_t)n >= sizeof target) { fail(w, ENAMETOOLONG); return; }
    if (!valid_utf8((const unsigned char *)target, (size_t)n)) { fail(w, EILSEQ); return; }
    emit(w, d->name, K_LINK, target, (size_t)n, NULL);
    return;
  }
  if (type == DT_REG) {
    if (fstatat(fd, d->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      /* lstatSync(..., { throwIfNoEntry: false }) returns undefined for these two only; others throw. */
      if (errno == ENOENT || errno == ENOTDIR) { emit(w, d->name, K_FILE_GONE, "", 0, NULL); return; }
      fail(w, errno);
      return;
    }
    emit(w, d->name, K_FILE, "", 0, &st);
    return;
  }
  emit(w, d->name, K_OTHER, "", 0, NULL);
}

/* Lists the open folder `fd` (closed here), depth first in sorted order, as the JavaScript recursion does. */
static void walk(walk_t *w, int fd, int depth) {
  DIR *dir = fdopendir(fd);
  if (!dir) {
    close(fd);
    fail(w, errno);
    return;
  }
  size_t n = 0;
  dent_t *list = read_entries(w, dir, &n);
  for (size_t i = 0; i < n && !w->failed; i++) visit(w, dirfd(dir), &list[i], depth);
  for (size_t i = 0; i < n; i++) free(list[i].name);
  free(list);
  closedir(dir);
}

static napi_value make_result(napi_env env, walk_t *w) {
  napi_value result, text, kinds, kinds_buffer, numbers, numbers_buffer;
  void *kinds_data, *numbers_data;
  size_t count = w->kinds.len;
  if (napi_create_string_utf8(env, w->text.data ? w->text.data : "", w->text.len, &text) != napi_ok ||
      napi_create_arraybuffer(env, count, &kinds_data, &kinds_buffer) != napi_ok ||
      napi_create_typedarray(env, napi_uint8_array, count, kinds_buffer, 0, &kinds) != napi_ok ||
      napi_create_arraybuffer(env, count * 3 * sizeof(double), &numbers_data, &numbers_buffer) != napi_ok ||
      napi_create_typedarray(env, napi_float64_array, count * 3, numbers_buffer, 0, &numbers) != napi_ok ||
      napi_create_array_with_length(env, 3, &result) != napi_ok)
    return NULL;
  if (count) {
    memcpy(kinds_data, w->kinds.data, count);
    memcpy(numbers_data, w->numbers.data, count * 3 * sizeof(double));
  }
  if (napi_set_element(env, result, 0, text) != napi_ok || napi_set_element(env, result, 1, kinds) != napi_ok ||
      napi_set_element(env, result, 2, numbers) != napi_ok)
    return NULL;
  return result;
}

/* One folder of a batch: its path, and what listing it gave. */
typedef struct {
  char *dir;
  walk_t walk;
  int declined; /* the JavaScript walker must list it */
} job_t;

static void list_one(void *arg) {
  job_t *job = arg;
  int fd = open(job->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    /* Missing: an empty listing (readDirOrWarn's rule). Anything else is a warning the JavaScript walker words. */
    if (errno != ENOENT) job->declined = 1;
    return;
  }
  walk(&job->walk, fd, 0);
  if (job->walk.failed && job->walk.failed != ENOMEM) job->declined = 1;
}

/*
 * listTrees(dirs, recursive, skipName, threads) -> one result per dir:
 * [text, kinds: Uint8Array, numbers: Float64Array], or undefined where the
 * JavaScript walker must list that folder. The folders are listed on up to
 * `threads` threads (this one included): the work is nearly all in the kernel,
 * and it splits over cores. The JavaScript values are made on this thread only,
 * after the others are done.
 */
static napi_value js_list_trees(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result = NULL;
  char skip[256];
  size_t skip_len = 0;
  uint32_t count = 0;
  bool recursive = false, is_array = false;
  int32_t threads = 1;
  napi_valuetype skip_type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 4 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[0], &count) != napi_ok || napi_get_value_bool(env, argv[1], &recursive) != napi_ok ||
      napi_typeof(env, argv[2], &skip_type) != napi_ok || napi_get_value_int32(env, argv[3], &threads) != napi_ok ||
      (skip_type == napi_string && (napi_get_value_string_utf8(env, argv[2], skip, sizeof skip, &skip_len) != napi_ok || skip_len + 1 >= sizeof skip))) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "listTrees(dirs: string[], recursive: boolean, skipName: string | undefined, threads: number)");
    return NULL;
  }
  job_t *jobs = calloc(count ? count : 1, sizeof *jobs);
  if (!jobs) {
    napi_throw_error(env, "ENOMEM", "listTrees: out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    jobs[i].walk.recursive = recursive;
    jobs[i].walk.skip = skip_type == napi_string ? skip : NULL;
    /* A NUL inside the path (Node would refuse it): the JavaScript walker decides. */
    jobs[i].dir = batch_path_at(env, argv[0], i, "listTrees: dirs must be strings", "listTrees: out of memory", &jobs[i].declined);
    if (!jobs[i].dir) goto done;
  }
  run_batch(jobs, count, sizeof *jobs, list_one, threads);

  napi_value undefined, out;
  if (napi_get_undefined(env, &undefined) != napi_ok || napi_create_array_with_length(env, count, &out) != napi_ok) goto done;
  for (uint32_t i = 0; i < count; i++) {
    if (jobs[i].walk.failed == ENOMEM) {
      napi_throw_error(env, "ENOMEM", "listTrees: out of memory");
      goto done;
    }
    napi_value one = jobs[i].declined ? undefined : make_result(env, &jobs[i].walk);
    if (!one || napi_set_element(env, out, i, one) != napi_ok) goto done;
    /* Free as we go: the listings of a big cache are megabytes. */
    free(jobs[i].walk.text.data);
    free(jobs[i].walk.kinds.data);
    free(jobs[i].walk.numbers.data);
    memset(&jobs[i].walk, 0, sizeof jobs[i].walk);
  }
  result = out;

done:
  for (uint32_t i = 0; i < count; i++) {
    free(jobs[i].dir);
    free(jobs[i].walk.text.data);
    free(jobs[i].walk.kinds.data);
    free(jobs[i].walk.numbers.data);
  }
  free(jobs);
  return result;
}

int list_tree_init(napi_env env, napi_value exports) {
  napi_value fn;
  return napi_create_function(env, "listTrees", NAPI_AUTO_LENGTH, js_list_trees, NULL, &fn) == napi_ok &&
         napi_set_named_property(env, exports, "listTrees", fn) == napi_ok;
}
