#!/usr/bin/env bash
# A throwaway single-node Ceph cluster with an S3 gateway (RGW) on 127.0.0.1, for tests and benches.
#   ceph.sh start DIR MON_PORT RGW_PORT   boots mon + osd + rgw in DIR, prints one JSON line
#   ceph.sh stop DIR                      stops them by the pids recorded in DIR (never by name)
# One monitor, one bluestore OSD on a sparse file, `auth none`, pool size 1. The facts that make it
# boot (each cost an hour once): the bluestore block file lives outside the OSD data folder; pool
# size 1 needs `mon allow pool size one`; RGW hangs at start without the crc messenger modes in
# [client] (radosgw-admin reads them there too); `paxos propose interval = 0.05` cuts boot from
# ~18 s to ~7 s; `mon data avail crit/warn` low, or the monitor stops on a nearly full /tmp.
set -euo pipefail
cmd=$1
dir=$(realpath -m "$2")

stop() {
  for name in rgw osd mon; do
    pidfile="$dir/$name.pid"
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: ceph.sh start DIR MON_PORT RGW_PORT | stop DIR" >&2; exit 2; }
mon_port=$3
rgw_port=$4
mkdir -p "$dir"/{mon,osd0,run,log}
fsid=$(cat /proc/sys/kernel/random/uuid)
conf="$dir/ceph.conf"
cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
keyring = $dir/keyring
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
log to stderr = false
err to stderr = true
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon data avail crit = 1
mon data avail warn = 2
mon max pg per osd = 1000
[mon]
mon data = $dir/mon
paxos propose interval = 0.05
[osd]
osd data = $dir/osd0
osd objectstore = bluestore
bluestore block path = $dir/osd0-block
bluestore block create = true
bluestore block size = 21474836480
bluestore cache autotune = false
bluestore cache size = 268435456
osd memory target = 939524096
[client]
ms mon client mode = crc
ms client mode = crc
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $dir/rgw
rgw dns name = 127.0.0.1
rgw thread pool size = 64
CONF
ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$dir/monmap" >/dev/null
ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" >"$dir/log/mkfs-mon.out" 2>&1
ceph-mon -c "$conf" -f -i a >"$dir/log/mon.out" 2>&1 &
echo $! >"$dir/mon.pid"
ceph -c "$conf" --connect-timeout 30 osd create >/dev/null
ceph-osd -c "$conf" -i 0 --mkfs >"$dir/log/mkfs-osd.out" 2>&1
ceph-osd -c "$conf" -f -i 0 >"$dir/log/osd.out" 2>&1 &
echo $! >"$dir/osd.pid"
mkdir -p "$dir/rgw"
radosgw -c "$conf" -f -n client.rgw.a >"$dir/log/rgw.out" 2>&1 &
echo $! >"$dir/rgw.pid"
for _ in $(seq 1 600); do
  if (exec 3<>/dev/tcp/127.0.0.1/"$rgw_port") 2>/dev/null; then break; fi
  kill -0 "$(cat "$dir/rgw.pid")" 2>/dev/null || { echo "radosgw exited: $(tail -5 "$dir/log/rgw.out")" >&2; exit 1; }
  sleep 0.1
done
access=hubcachetest
secret=hubcachetestsecret
radosgw-admin -c "$conf" user create --uid=hubcache --display-name=hubcache --access-key=$access --secret-key=$secret >/dev/null
echo "{\"endpoint\":\"http://127.0.0.1:$rgw_port\",\"accessKeyId\":\"$access\",\"secretAccessKey\":\"$secret\",\"conf\":\"$conf\",\"pids\":[$(cat "$dir/mon.pid"),$(cat "$dir/osd.pid"),$(cat "$dir/rgw.pid")]}"
