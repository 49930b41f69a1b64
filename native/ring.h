#ifndef HUBCACHE_RING_H
#define HUBCACHE_RING_H
#include <node_api.h>

/* Adds ringCreate/ringTarget/ringSubmit/ringFinish/ringClose to the addon's exports; 0 on failure. */
int ring_init(napi_env env, napi_value exports);

#endif
