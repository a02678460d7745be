#!/bin/sh
# redis-prestop.sh: before this Redis node stops, hand the master role to a replica if it
# holds it, so a rolling update or node drain costs a quick failover instead of a
# down-after-milliseconds outage. Bounded by REDIS_HA_PRESTOP_WAIT seconds (default 20);
# the node stops afterwards either way.
#
# A Sentinel refuses SENTINEL FAILOVER for a while after a failover or its own restart
# (-INPROG, -NOGOODSLAVE until it has fresh INFO of a replica), so the request is asked
# again every second until one Sentinel accepts it; once one has, no other is asked, since
# two Sentinels running forced failovers at once would promote two replicas.
set -u
. "$(dirname "$0")/lib.sh"

self="$REDIS_HA_ANNOUNCE_HOST $REDIS_HA_PORT"
[ "$(rha_sentinel_master)" = "$self" ] || exit 0
wait=${REDIS_HA_PRESTOP_WAIT:-20}
deadline=$(($(date +%s) + wait))
asked=""
while [ "$(date +%s)" -lt "$deadline" ]; do
    m=$(rha_sentinel_master) && [ "$m" != "$self" ] && exit 0
    for s in $REDIS_HA_SENTINELS; do
        [ -z "$asked" ] || break
        r=$(rha_cli "${s%:*}" "${s##*:}" SENTINEL FAILOVER "$REDIS_HA_MASTER_NAME")
        if [ "$r" = OK ]; then
            asked=$s
            rha_log "asked $s to fail over away from this node"
        else
            rha_log "$s refused to fail over: ${r:-no answer}"
        fi
    done
    sleep 1
done
rha_log "no failover within ${wait}s; stopping anyway"
