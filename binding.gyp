{
  "targets": [
    {
      "target_name": "hubcache_flock",
      "sources": ["native/flock.c"],
      "cflags": ["-Wall", "-Wextra"]
    }
  ]
}
