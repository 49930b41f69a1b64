/* repoSummary (native/repoSummary.c): the summary scan of usual repo folders, in one pass per repo. */
#ifndef HUBCACHE_REPO_SUMMARY_H
#define HUBCACHE_REPO_SUMMARY_H
#include <node_api.h>

/* Adds `summarizeRepos` to the addon's exports; 0 on failure. */
int repo_summary_init(napi_env env, napi_value exports);

#endif
