/*
 * The summary scan (`ls`) of a repo folder in one pass, for the usual case only:
 * refs/ read, blobs/ lstat'ed, every snapshot link matched to its blob and the
 * totals tallied, with no string per link crossing into JavaScript.
 *
 * "Usual" is what every writer makes and nothing the scan would warn about:
 * real blobs/, refs/ and snapshots/ folders; regular files (and partial
 * downloads) in blobs/; 40-hex commit folders in snapshots/ holding folders and
 * links spelled `../../blobs/<name>` (one more `../` per subfolder) to a blob
 * that is there; refs holding a 40-hex commit. On anything else (a warning to
 * word, a name that is not UTF-8, an entry gone since the readdir, an error) the
 * repo is declined, and src/cache/scanRepo.ts walks it with the full rules.
 * test/cache/repoSummary.test.ts checks that an answer here equals that walk's.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "batch.h"
#include "repoSummary.h"

/* Deeper than any model repo; past it the JavaScript walk (unbounded) takes over. */
#define MAX_DEPTH 64
/* readRefs.ts's MAX_REF_BYTES. */
#define MAX_REF_BYTES 4096

typedef struct {
  char *data;
  size_t len, cap;
} buf_t;

typedef struct {
  const char *name; /* into the repo's name arena */
  size_t name_len;
  double size, atime, mtime;
  int64_t rev_mark; /* the last revision that counted this blob */
  int used;
} blob_t;

typedef struct {
  char *repo;       /* the repo folder */
  int declined;     /* the JavaScript walk must scan it */
  int oom;
  buf_t names;      /* blob names, NUL-terminated, one after the other */
  blob_t *blobs;
  size_t blob_count, blob_cap;
  uint32_t *table;  /* open addressing: index + 1 into blobs, 0 = empty */
  size_t table_cap;
  buf_t text;       /* NUL-terminated fields: partial download names, refs (name, commit), revision commits */
  buf_t revs;       /* doubles per revision: nbFiles, sizeOnDisk, lastModified */
  buf_t partials;   /* doubles per partial download: size, mtimeMs */
  size_t ref_count, rev_count, partial_count;
  double rev_files, rev_size, rev_mtime; /* the revision being tallied */
  int64_t rev_index;
} job_t;

static int buf_put(buf_t *b, const void *src, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 1024;
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

static void decline(job_t *job) { job->declined = 1; }

static void out_of_memory(job_t *job) {
  job->oom = 1;
  job->declined = 1;
}

/* Strict UTF-8, as listTree.c checks it: a name Node would decode with U+FFFD is declined. */
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

static int is_commit(const char *s, size_t n) {
  if (n != 40) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

static int ends_with(const char *s, size_t n, const char *suffix) {
  size_t k = strlen(suffix);
  return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/*
 * A folder's entries, read with getdents64 straight into one buffer: no
 * fdopendir (its fstat and fcntl per folder were a fifth of the scan's system
 * calls). Order does not matter here: every total is order-free.
 */
typedef struct {
  char *data;
  size_t len;
} dents_t;

static int read_dents(int fd, dents_t *out) {
  size_t cap = 32768;
  out->data = malloc(cap);
  out->len = 0;
  if (!out->data) return ENOMEM;
  for (;;) {
    if (cap - out->len < 8192) {
      char *grown = realloc(out->data, cap * 2);
      if (!grown) return ENOMEM;
      out->data = grown;
      cap *= 2;
    }
    long n = syscall(SYS_getdents64, fd, out->data + out->len, cap - out->len);
    if (n < 0) return errno ? errno : EIO;
    if (n == 0) return 0;
    out->len += (size_t)n;
  }
}

/* read_dents for a job: out of memory fails the job, any other error declines the repo to the JavaScript walk. */
static void read_dents_for(job_t *job, int fd, dents_t *out) {
  int err = read_dents(fd, out);
  if (err == ENOMEM) out_of_memory(job);
  else if (err) decline(job);
}

struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

#define FOR_EACH_DENT(d, dents) \
  for (size_t _off = 0; _off < (dents).len && ((d) = (struct linux_dirent64 *)((dents).data + _off)); _off += (d)->d_reclen)

static int is_dot(const char *name) { return name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0)); }

/* d_type, or the lstat's when the filesystem gives none (as Node does). -1: gone or unreadable. */
static int type_of(int dirfd, const struct linux_dirent64 *d) {
  if (d->d_type != DT_UNKNOWN) return d->d_type;
  struct stat st;
  if (fstatat(dirfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) return -1;
  return S_ISDIR(st.st_mode) ? DT_DIR : S_ISLNK(st.st_mode) ? DT_LNK : S_ISREG(st.st_mode) ? DT_REG : DT_FIFO;
}

/* Opens a layout folder of the repo; a link there is a warning (linkedEntries.ts), so O_NOFOLLOW declines it. */
static int open_layout_dir(job_t *job, const char *name, int *missing) {
  char path[PATH_MAX];
  *missing = 0;
  if ((size_t)snprintf(path, sizeof path, "%s/%s", job->repo, name) >= sizeof path) { decline(job); return -1; }
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) *missing = 1;
    else decline(job);
  }
  return fd;
}

static uint64_t hash_name(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static blob_t *find_blob(job_t *job, const char *name, size_t n) {
  if (!job->table_cap) return NULL;
  size_t mask = job->table_cap - 1;
  for (size_t i = hash_name(name, n) & mask;; i = (i + 1) & mask) {
    uint32_t slot = job->table[i];
    if (!slot) return NULL;
    blob_t *b = &job->blobs[slot - 1];
    if (b->name_len == n && memcmp(b->name, name, n) == 0) return b;
  }
}

/* blobs/: every entry lstat'ed; complete blobs indexed by name, partial downloads reported. */
static void read_blobs(job_t *job) {
  int missing;
  int fd = open_layout_dir(job, "blobs", &missing);
  if (fd < 0) return;
  dents_t dents;
  read_dents_for(job, fd, &dents);
  struct linux_dirent64 *d;
  size_t count = 0;
  if (!job->declined) FOR_EACH_DENT(d, dents) count++;
  job->blobs = count ? malloc(count * sizeof *job->blobs) : NULL;
  if (count && !job->blobs) out_of_memory(job);
  /* Offsets first: the arena moves while it grows. */
  size_t *offsets = count ? malloc(count * sizeof *offsets) : NULL;
  if (count && !offsets) out_of_memory(job);
  if (!job->declined) {
    FOR_EACH_DENT(d, dents) {
      if (job->declined) break;
      if (is_dot(d->d_name)) continue;
      size_t n = strlen(d->d_name);
      struct stat st;
      if (!valid_utf8((const unsigned char *)d->d_name, n) || fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) { decline(job); break; }
      if (ends_with(d->d_name, n, ".incomplete") || ends_with(d->d_name, n, ".downloadInProgress")) {
        /* readRepoBlobs: a partial download whatever its kind, with its own lstat numbers. */
        double numbers[2] = {(double)st.st_size, ms_of(st.st_mtim)};
        if (buf_put(&job->text, d->d_name, n + 1) || buf_put(&job->partials, numbers, sizeof numbers)) { out_of_memory(job); break; }
        job->partial_count++;
        continue;
      }
      /* A linked blob, a folder, a fifo: warnings the JavaScript walk words. */
      if (!S_ISREG(st.st_mode)) { decline(job); break; }
      offsets[job->blob_count] = job->names.len;
      if (buf_put(&job->names, d->d_name, n + 1)) { out_of_memory(job); break; }
      blob_t *b = &job->blobs[job->blob_count++];
      b->name_len = n;
      b->size = (double)st.st_size;
      b->atime = ms_of(st.st_atim);
      b->mtime = ms_of(st.st_mtim);
      b->rev_mark = -1;
      b->used = 0;
    }
  }
  free(dents.data);
  close(fd);
  if (!job->declined && job->blob_count) {
    size_t cap = 16;
    while (cap < job->blob_count * 2) cap *= 2;
    job->table = calloc(cap, sizeof *job->table);
    if (!job->table) out_of_memory(job);
    else {
      job->table_cap = cap;
      for (size_t k = 0; k < job->blob_count; k++) {
        blob_t *b = &job->blobs[k];
        b->name = job->names.data + offsets[k];
        size_t i = hash_name(b->name, b->name_len) & (cap - 1);
        while (job->table[i]) i = (i + 1) & (cap - 1);
        job->table[i] = (uint32_t)(k + 1);
      }
    }
  }
  free(offsets);
}

/* One ref file: readBoundedFileSync's rules (non-blocking, regular, capped), and it must hold a commit. */
static void read_ref(job_t *job, int dirfd, const char *name, const char *ref_name, size_t ref_len) {
  int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) { decline(job); return; }
  struct stat st;
  char data[MAX_REF_BYTES + 1];
  size_t len = 0;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_REF_BYTES) {
    close(fd);
    decline(job);
    return;
  }
  for (ssize_t n; len < sizeof data && (n = read(fd, data + len, sizeof data - len)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      decline(job);
      return;
    }
    len += (size_t)n;
  }
  close(fd);
  if (len > MAX_REF_BYTES) { decline(job); return; }
  /* String.prototype.trim on ASCII: tab, LF, VT, FF, CR, space. Any other byte than hex is declined. */
  size_t start = 0, end = len;
  while (start < end && (data[start] == ' ' || (data[start] >= '\t' && data[start] <= '\r'))) start++;
  while (end > start && (data[end - 1] == ' ' || (data[end - 1] >= '\t' && data[end - 1] <= '\r'))) end--;
  if (!is_commit(data + start, end - start)) { decline(job); return; }
  if (buf_put(&job->text, ref_name, ref_len) || buf_put(&job->text, "", 1) || buf_put(&job->text, data + start, 40) ||
      buf_put(&job->text, "", 1)) {
    out_of_memory(job);
    return;
  }
  job->ref_count++;
}

/* refs/, recursively (refs/refs/pr/1), as readRefsSync walks it. `prefix` is the ref name so far. */
static void read_refs(job_t *job, int fd, char *prefix, size_t prefix_len, int depth) {
  dents_t dents;
  read_dents_for(job, fd, &dents);
  struct linux_dirent64 *d;
  if (!job->declined) {
    FOR_EACH_DENT(d, dents) {
      if (job->declined) break;
      if (is_dot(d->d_name) || strcmp(d->d_name, ".DS_Store") == 0) continue;
      size_t n = strlen(d->d_name);
      if (!valid_utf8((const unsigned char *)d->d_name, n) || prefix_len + 1 + n >= PATH_MAX || depth >= MAX_DEPTH) { decline(job); break; }
      size_t len = prefix_len;
      if (len) prefix[len++] = '/';
      memcpy(prefix + len, d->d_name, n + 1);
      len += n;
      int type = type_of(fd, d);
      if (type == DT_DIR) {
        int child = openat(fd, d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child < 0) decline(job);
        else {
          read_refs(job, child, prefix, len, depth + 1);
          close(child);
        }
      } else if (type == DT_REG) {
        read_ref(job, fd, d->d_name, prefix, len);
      } else {
        decline(job);
      }
      prefix[prefix_len] = 0;
    }
  }
  free(dents.data);
}

/*
 * A folder of a revision: links tallied against the blobs, subfolders walked.
 * `depth` counts the `../` a usual link needs here: 2 at the revision's top.
 */
static void tally_folder(job_t *job, int fd, int depth) {
  dents_t dents;
  read_dents_for(job, fd, &dents);
  struct linux_dirent64 *d;
  if (!job->declined) {
    FOR_EACH_DENT(d, dents) {
      if (job->declined) break;
      if (is_dot(d->d_name) || strcmp(d->d_name, ".DS_Store") == 0) continue;
      int type = type_of(fd, d);
      if (type == DT_DIR) {
        /* A name that is not UTF-8 would be mangled in the JavaScript listing's paths; only folders and links have names that matter. */
        if (!valid_utf8((const unsigned char *)d->d_name, strlen(d->d_name)) || depth + 1 > MAX_DEPTH + 1) { decline(job); break; }
        int child = openat(fd, d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child < 0) { decline(job); break; }
        tally_folder(job, child, depth + 1);
        close(child);
        continue;
      }
      if (type != DT_LNK) { decline(job); break; } /* a copy, a fifo, a gone entry: the full rules */
      if (!valid_utf8((const unsigned char *)d->d_name, strlen(d->d_name))) { decline(job); break; }
      char target[PATH_MAX];
      ssize_t n = readlinkat(fd, d->d_name, target, sizeof target);
      if (n < 0 || (size_t)n >= sizeof target) { decline(job); break; }
      /* scanSnapshotDir's usual spelling: exactly `depth` "../", then "blobs/", then a plain name. */
      size_t prefix = 3 * (size_t)depth + 6;
      if ((size_t)n <= prefix) { decline(job); break; }
      int usual = 1;
      for (int k = 0; k < depth && usual; k++) usual = memcmp(target + 3 * k, "../", 3) == 0;
      if (!usual || memcmp(target + 3 * depth, "blobs/", 6) != 0) { decline(job); break; }
      const char *name = target + prefix;
      size_t name_len = (size_t)n - prefix;
      if (memchr(name, '/', name_len) || (name_len == 1 && name[0] == '.') || (name_len == 2 && name[0] == '.' && name[1] == '.')) { decline(job); break; }
      blob_t *b = find_blob(job, name, name_len);
      if (!b) { decline(job); break; } /* dangling */
      job->rev_files += 1;
      if (b->rev_mark != job->rev_index) {
        b->rev_mark = job->rev_index;
        job->rev_size += b->size;
        if (b->mtime > job->rev_mtime) job->rev_mtime = b->mtime;
      }
      b->used = 1;
    }
  }
  free(dents.data);
}

static void read_snapshots(job_t *job) {
  int missing;
  int fd = open_layout_dir(job, "snapshots", &missing);
  if (fd < 0) return;
  dents_t dents;
  read_dents_for(job, fd, &dents);
  struct linux_dirent64 *d;
  if (!job->declined) {
    FOR_EACH_DENT(d, dents) {
      if (job->declined) break;
      if (is_dot(d->d_name) || strcmp(d->d_name, ".DS_Store") == 0) continue;
      size_t n = strlen(d->d_name);
      /* Anything but a commit folder is a stray entry the JavaScript walk warns about. */
      if (!is_commit(d->d_name, n) || type_of(fd, d) != DT_DIR) { decline(job); break; }
      int child = openat(fd, d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child < 0) { decline(job); break; }
      job->rev_files = job->rev_size = job->rev_mtime = 0;
      job->rev_index = (int64_t)job->rev_count;
      tally_folder(job, child, 2);
      close(child);
      double numbers[3] = {job->rev_files, job->rev_size, job->rev_mtime};
      if (buf_put(&job->text, d->d_name, n + 1) || buf_put(&job->revs, numbers, sizeof numbers)) { out_of_memory(job); break; }
      job->rev_count++;
    }
  }
  free(dents.data);
  close(fd);
}

static void summarize(job_t *job) {
  read_blobs(job);
  if (!job->declined) {
    int missing;
    int fd = open_layout_dir(job, "refs", &missing);
    if (fd >= 0) {
      char prefix[PATH_MAX] = "";
      read_refs(job, fd, prefix, 0, 0);
      close(fd);
    }
  }
  if (!job->declined) read_snapshots(job);
}

static void summarize_unless_declined(void *arg) {
  job_t *job = arg;
  if (!job->declined) summarize(job);
}

/*
 * [text, numbers]: text holds, in the order they were read, the partial
 * downloads' names, the refs' names and commits, and the revisions' commits,
 * each NUL-terminated; numbers
 * holds [refCount, revisionCount, partialCount, usedBlobs, usedBytes,
 * lastAccessed, lastModified, orphanBlobs, orphanBytes], then per revision
 * [nbFiles, sizeOnDisk, lastModified] and per partial download [bytes, lastModified].
 */
static napi_value make_result(napi_env env, job_t *job) {
  double head[9] = {(double)job->ref_count, (double)job->rev_count, (double)job->partial_count, 0, 0, 0, 0, 0, 0};
  for (size_t k = 0; k < job->blob_count; k++) {
    blob_t *b = &job->blobs[k];
    if (b->used) {
      head[3] += 1;
      head[4] += b->size;
      if (b->atime > head[5]) head[5] = b->atime;
      if (b->mtime > head[6]) head[6] = b->mtime;
    } else {
      head[7] += 1;
      head[8] += b->size;
    }
  }
  size_t count = 9 + job->revs.len / sizeof(double) + job->partials.len / sizeof(double);
  napi_value result, text, numbers, numbers_buffer;
  void *data;
  if (napi_create_string_utf8(env, job->text.data ? job->text.data : "", job->text.len, &text) != napi_ok ||
      napi_create_arraybuffer(env, count * sizeof(double), &data, &numbers_buffer) != napi_ok ||
      napi_create_typedarray(env, napi_float64_array, count, numbers_buffer, 0, &numbers) != napi_ok ||
      napi_create_array_with_length(env, 2, &result) != napi_ok)
    return NULL;
  memcpy(data, head, sizeof head);
  if (job->revs.len) memcpy((char *)data + sizeof head, job->revs.data, job->revs.len);
  if (job->partials.len) memcpy((char *)data + sizeof head + job->revs.len, job->partials.data, job->partials.len);
  if (napi_set_element(env, result, 0, text) != napi_ok || napi_set_element(env, result, 1, numbers) != napi_ok) return NULL;
  return result;
}

static void free_job(job_t *job) {
  free(job->repo);
  free(job->names.data);
  free(job->blobs);
  free(job->table);
  free(job->text.data);
  free(job->revs.data);
  free(job->partials.data);
  memset(job, 0, sizeof *job);
}

/*
 * summarizeRepos(repoPaths, threads) -> per repo [text, numbers] (see
 * make_result), or undefined where the full JavaScript walk must scan it.
 * Runs on up to `threads` threads (this one included); the JavaScript values
 * are made on this thread only, after the others are done.
 */
static napi_value js_summarize_repos(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result = NULL;
  uint32_t count = 0;
  bool is_array = false;
  int32_t threads = 1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[0], &count) != napi_ok || napi_get_value_int32(env, argv[1], &threads) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "summarizeRepos(repoPaths: string[], threads: number)");
    return NULL;
  }
  job_t *jobs = calloc(count ? count : 1, sizeof *jobs);
  if (!jobs) {
    napi_throw_error(env, "ENOMEM", "summarizeRepos: out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < count; i++) {
    /* A NUL inside the path (Node would refuse it): the JavaScript walk decides. */
    jobs[i].repo = batch_path_at(env, argv[0], i, "summarizeRepos: repoPaths must be strings", "summarizeRepos: out of memory", &jobs[i].declined);
    if (!jobs[i].repo) goto done;
  }
  run_batch(jobs, count, sizeof *jobs, summarize_unless_declined, threads);

  napi_value undefined, out;
  if (napi_get_undefined(env, &undefined) != napi_ok || napi_create_array_with_length(env, count, &out) != napi_ok) goto done;
  for (uint32_t i = 0; i < count; i++) {
    if (jobs[i].oom) {
      napi_throw_error(env, "ENOMEM", "summarizeRepos: out of memory");
      goto done;
    }
    napi_value one = jobs[i].declined ? undefined : make_result(env, &jobs[i]);
    if (!one || napi_set_element(env, out, i, one) != napi_ok) goto done;
    free_job(&jobs[i]);
  }
  result = out;

done:
  for (uint32_t i = 0; i < count; i++) free_job(&jobs[i]);
  free(jobs);
  return result;
}

int repo_summary_init(napi_env env, napi_value exports) {
  napi_value fn;
  return napi_create_function(env, "summarizeRepos", NAPI_AUTO_LENGTH, js_summarize_repos, NULL, &fn) == napi_ok &&
         napi_set_named_property(env, exports, "summarizeRepos", fn) == napi_ok;
}
