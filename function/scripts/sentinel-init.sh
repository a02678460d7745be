#!/bin/sh
# sentinel-init.sh: writes the config this Sentinel starts with: the shared sentinel.conf
# with its monitor line pointed at the current master, plus this Sentinel's own lines
# (announced host name, passwords). Sentinel rewrites the file while it runs, so it must be
# a writable copy.
#
# The current master is found the same way as in redis-init.sh: what the other Sentinels
# report, else a Redis node that reports role master, else the first node.
#
# Environment, besides lib.sh's:
#   REDIS_HA_BASE_CONF   the shared sentinel.conf
#   REDIS_HA_CONF        the file to write
set -eu
. "$(dirname "$0")/lib.sh"

if master=$(rha_sentinel_master "$REDIS_HA_ANNOUNCE_HOST:$REDIS_HA_PORT"); then
    rha_log "other sentinels report master $master"
elif master=$(rha_peer_master); then
    rha_log "no other sentinel knows a master; $master reports role master"
else
    master=$(rha_bootstrap_master)
    rha_log "no sentinel or node knows a master; bootstrapping with $master"
fi
host=${master% *}
port=${master#* }
rha_wait_resolvable "$host" 60

umask 077
{
    awk -v name="$REDIS_HA_MASTER_NAME" -v host="$host" -v port="$port" '
        $1 == "sentinel" && $2 == "monitor" && $3 == name { $4 = host; $5 = port }
        { print }' "$REDIS_HA_BASE_CONF"
    echo "# Written by sentinel-init.sh when this Sentinel started."
    echo "sentinel announce-ip $REDIS_HA_ANNOUNCE_HOST"
    echo "sentinel announce-port $REDIS_HA_PORT"
    if [ -n "${REDISCLI_AUTH:-}" ]; then
        pw=$(rha_quote "$REDISCLI_AUTH")
        echo "requirepass $pw"
        echo "sentinel sentinel-pass $pw"
        echo "sentinel auth-pass $REDIS_HA_MASTER_NAME $pw"
    fi
} >"$REDIS_HA_CONF.tmp"
mv "$REDIS_HA_CONF.tmp" "$REDIS_HA_CONF"
rha_log "monitoring $REDIS_HA_MASTER_NAME at $master"
