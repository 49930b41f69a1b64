{
  "targets": [
    {
      "target_name": "hubcache_flock",
      "sources": ["native/flock.c", "native/listTree.c", "native/repoSummary.c", "native/batch.c"],
      "cflags": ["-Wall", "-Wextra"]
    }
  ]
}
