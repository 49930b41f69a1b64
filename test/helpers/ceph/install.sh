#!/usr/bin/env bash
# Installs the Ceph daemons the S3-store tests boot (Debian's packages), when missing and when root.
# Exit 0 when they are there afterwards, 1 (with a reason on stderr) when they cannot be had.
set -uo pipefail
have() { command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null && command -v radosgw >/dev/null && command -v radosgw-admin >/dev/null; }
have && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ceph: not installed and not root with apt-get: install radosgw ceph-mon ceph-osd ceph-common" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null 2>&1 || true
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends radosgw ceph-mon ceph-osd ceph-common >/dev/null || {
  echo "ceph: apt-get install radosgw ceph-mon ceph-osd ceph-common failed" >&2
  exit 1
}
have
