#!/bin/sh
# Entry point of the hubcache image. umask 002 makes new files and folders group
# writable, so containers running as different users of one group can all write the
# shared cache (hubcache gives each blob the mode a fresh file gets in its folder).
# Override with HUBCACHE_UMASK (e.g. 022 for a single-user cache).
umask "${HUBCACHE_UMASK:-002}"
exec node /opt/hubcache/bin/hubcache.cjs "$@"
