/* listTree (native/listTree.c): the cache scan's batched readdir/readlinkat/fstatat. */
#ifndef HUBCACHE_LIST_TREE_H
#define HUBCACHE_LIST_TREE_H
#include <node_api.h>

/* Adds `listTree` to the addon's exports; 0 on failure. */
int list_tree_init(napi_env env, napi_value exports);

#endif
