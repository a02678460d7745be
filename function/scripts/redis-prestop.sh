#!/bin/sh
# redis-prestop.sh: before this Redis node stops, hand the master role to a replica if it
# holds it, so a rolling update or node drain costs a quick failover instead of a
# down-after-milliseconds outage. Bounded by REDIS_HA_PRESTOP_WAIT seconds (default 20);
# the node stops afterwards either way.
set -u
. "$(dirname "$0")/lib.sh"

self="$REDIS_HA_ANNOUNCE_HOST $REDIS_HA_PORT"
[ "$(rha_sentinel_master)" = "$self" ] || exit 0
for s in $REDIS_HA_SENTINELS; do
    if [ "$(rha_cli "${s%:*}" "${s##*:}" SENTINEL FAILOVER "$REDIS_HA_MASTER_NAME")" = OK ]; then
        rha_log "asked $s to fail over away from this node"
        break
    fi
done
deadline=$(($(date +%s) + ${REDIS_HA_PRESTOP_WAIT:-20}))
while [ "$(date +%s)" -lt "$deadline" ]; do
    m=$(rha_sentinel_master) && [ "$m" != "$self" ] && exit 0
    sleep 1
done
rha_log "no failover within ${REDIS_HA_PRESTOP_WAIT:-20}s; stopping anyway"
