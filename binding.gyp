{
  "targets": [
    {
      "target_name": "hubcache_flock",
      "sources": ["native/flock.c", "native/listTree.c"],
      "cflags": ["-Wall", "-Wextra"]
    }
  ]
}
