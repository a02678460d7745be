#!/bin/sh
# redis-init.sh: decides whether this Redis node starts as master or as a replica, and writes
# the config redis-server starts with: an include of the shared redis.conf plus this node's
# own lines (announced host name, passwords, replicaof).
#
# The Sentinels are asked first, so a restarted old master never comes back as master after
# a failover. Only when no Sentinel knows a master (a brand-new deployment, or every Sentinel
# lost its state) does a Redis node that reports role master win, and only when there is none
# either is the first node (pod 0) the master.
#
# Environment, besides lib.sh's:
#   REDIS_HA_BASE_CONF      the shared redis.conf
#   REDIS_HA_CONF           the file to write
#   REDIS_HA_DATA_DIR       the Redis data directory, to tell whether this node kept its data
#   REDIS_HA_FAILOVER_WAIT  seconds to wait for the Sentinels to promote another node when
#                           they still name this one master but it lost its data (default 30)
set -eu
. "$(dirname "$0")/lib.sh"

self="$REDIS_HA_ANNOUNCE_HOST $REDIS_HA_PORT"
self_addr="$REDIS_HA_ANNOUNCE_HOST:$REDIS_HA_PORT"

has_data() {
    [ -s "$REDIS_HA_DATA_DIR/dump.rdb" ] || [ -d "$REDIS_HA_DATA_DIR/appendonlydir" ]
}

if master=$(rha_sentinel_master); then
    rha_log "sentinels report master $master"
    if [ "$master" = "$self" ] && ! has_data && rha_peer_up "$self_addr"; then
        # An empty master would replicate its empty dataset over the replicas' data.
        wait=${REDIS_HA_FAILOVER_WAIT:-30}
        rha_log "sentinels still name this node master but it has no data: waiting up to ${wait}s for a failover"
        deadline=$(($(date +%s) + wait))
        while [ "$(date +%s)" -lt "$deadline" ]; do
            sleep 1
            if m=$(rha_sentinel_master) && [ "$m" != "$self" ]; then
                master=$m
                break
            fi
        done
    fi
elif master=$(rha_peer_master "$self_addr"); then
    rha_log "no sentinel knows a master; $master reports role master"
else
    master=$(rha_bootstrap_master)
    rha_log "no sentinel or node knows a master; bootstrapping with $master"
fi

umask 077
{
    echo "# Written by redis-init.sh when this node started; do not edit."
    echo "include $REDIS_HA_BASE_CONF"
    echo "replica-announce-ip $REDIS_HA_ANNOUNCE_HOST"
    echo "replica-announce-port $REDIS_HA_PORT"
    if [ -n "${REDISCLI_AUTH:-}" ]; then
        echo "requirepass $(rha_quote "$REDISCLI_AUTH")"
        echo "masterauth $(rha_quote "$REDISCLI_AUTH")"
    fi
    if [ "$master" != "$self" ]; then
        echo "replicaof $master"
    fi
} >"$REDIS_HA_CONF.tmp"
mv "$REDIS_HA_CONF.tmp" "$REDIS_HA_CONF"
if [ "$master" = "$self" ]; then
    rha_log "starting as master"
else
    rha_log "starting as replica of $master"
fi
