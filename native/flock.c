/*
 * The one syscall Node lacks: flock(2). Python's filelock (used by
 * huggingface_hub) and util-linux flock take these locks on the hub cache's
 * .locks/ files, so hubcache must take the very same kind of lock to exclude
 * them (fcntl/POSIX locks do not conflict with flock locks on Linux).
 *
 * Non-blocking only: a blocking flock here would freeze the whole event loop,
 * so waiting is done in JavaScript by polling, as Python's filelock does.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

#include "listTree.h"
#include "ring.h"
#include "tuneMalloc.h"
#include "repoSummary.h"

/* Node names errors after libuv, which calls EWOULDBLOCK "EAGAIN" on Linux;
 * the JS side accepts both, so only the errnos flock(2) documents are named. */
static const char *errno_name(int err) {
  switch (err) {
#if defined(EWOULDBLOCK) && EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK: return "EWOULDBLOCK";
#endif
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case EINTR: return "EINTR";
    case EINVAL: return "EINVAL";
    case ENOLCK: return "ENOLCK";
#ifdef ENOTSUP
    case ENOTSUP: return "ENOTSUP";
#endif
#if defined(EOPNOTSUPP) && (!defined(ENOTSUP) || EOPNOTSUPP != ENOTSUP)
    case EOPNOTSUPP: return "EOPNOTSUPP";
#endif
    case ENOSYS: return "ENOSYS";
    default: return "EUNKNOWN";
  }
}

/* Returns NULL so callers can `return throw_...(...)`. */
static napi_value throw_errno(napi_env env, int err) {
  const char *name = errno_name(err);
  char message[256];
  napi_value code, msg, error, errnum, syscall;
  /* Same shape as Node's own fs errors: "CODE: description, syscall". */
  snprintf(message, sizeof message, "%s: %s, flock", name, strerror(err));
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_error(env, code, msg, &error) != napi_ok) {
    napi_throw_error(env, name, message);
    return NULL;
  }
  /* Negative like libuv's errno, so the error matches what fs.* throws. */
  if (napi_create_int32(env, -err, &errnum) == napi_ok)
    napi_set_named_property(env, error, "errno", errnum);
  if (napi_create_string_utf8(env, "flock", NAPI_AUTO_LENGTH, &syscall) == napi_ok)
    napi_set_named_property(env, error, "syscall", syscall);
  napi_throw(env, error);
  return NULL;
}

/* flock(fd, op) -> 0, or throws an Error whose `code` is the errno name. */
static napi_value js_flock(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd, op;
  napi_value result;

  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_int32(env, argv[1], &op) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "flock(fd, op) takes two integers");
    return NULL;
  }
  /* Refuse to block the event loop: taking a lock must say LOCK_NB. */
  if ((op & (LOCK_EX | LOCK_SH)) != 0 && (op & LOCK_NB) == 0) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE",
                          "flock: LOCK_EX/LOCK_SH must be combined with LOCK_NB");
    return NULL;
  }
  if (flock(fd, op) != 0) return throw_errno(env, errno);
  napi_create_int32(env, 0, &result);
  return result;
}

static int export_int(napi_env env, napi_value exports, const char *name, int32_t value) {
  napi_value v;
  return napi_create_int32(env, value, &v) == napi_ok &&
         napi_set_named_property(env, exports, name, v) == napi_ok;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "flock", NAPI_AUTO_LENGTH, js_flock, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "flock", fn) != napi_ok)
    return NULL;
  /* The values differ between platforms, so JS takes them from here. */
  if (!export_int(env, exports, "LOCK_SH", LOCK_SH) || !export_int(env, exports, "LOCK_EX", LOCK_EX) ||
      !export_int(env, exports, "LOCK_UN", LOCK_UN) || !export_int(env, exports, "LOCK_NB", LOCK_NB))
    return NULL;
  /* The same addon also carries the scan's batched fs calls (listTree.c) and the download ring's threads (ring.c): one .node to build and ship. */
  if (!list_tree_init(env, exports) || !repo_summary_init(env, exports) || !ring_init(env, exports) || !tune_malloc_init(env, exports)) return NULL;
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
