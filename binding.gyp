{
  "targets": [
    {
      "target_name": "hubcache_flock",
      "sources": ["native/flock.c", "native/listTree.c", "native/repoSummary.c", "native/batch.c", "native/ring.c", "native/tuneMalloc.c"],
      "cflags": ["-Wall", "-Wextra"]
    }
  ]
}
