#ifndef HUBCACHE_TUNE_MALLOC_H
#define HUBCACHE_TUNE_MALLOC_H
#include <node_api.h>

/* Adds tuneMalloc() to the addon's exports; 0 on failure. */
int tune_malloc_init(napi_env env, napi_value exports);

#endif
