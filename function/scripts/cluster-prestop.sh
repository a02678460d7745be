#!/bin/sh
# cluster-prestop.sh: before this node stops, hand its slots to a replica if it is a master,
# so a rolling update or node drain costs a manual failover (the master pauses its clients
# until the replica has every write, then the replica takes over) instead of a
# cluster-node-timeout outage with the writes the replica had not received lost. Bounded by
# REDIS_HA_PRESTOP_WAIT seconds (default 20); the node stops afterwards either way.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster-lib.sh"

host=${REDIS_HA_PROBE_HOST:-127.0.0.1}
port=$REDIS_HA_PORT
[ "$(rha_role "$host" "$port")" = master ] || exit 0
rha_owns_slots "$host" "$port" || exit 0
myid=$(rha_myid "$host" "$port")
wait=${REDIS_HA_PRESTOP_WAIT:-20}
deadline=$(($(date +%s) + wait))
asked=0
while [ "$(date +%s)" -lt "$deadline" ]; do
    if [ "$(rha_role "$host" "$port")" != master ]; then
        rha_log "handed the master role over"
        exit 0
    fi
    # Ask again every 5 seconds: a replica refuses while it is not in sync yet.
    if [ $(($(date +%s) - asked)) -ge 5 ]; then
        # A connected replica of this node, as HOST PORT (its host name when it announces one).
        replica=$(rha_cli "$host" "$port" CLUSTER REPLICAS "$myid" | tr -d '\r' | awk '
            $3 !~ /fail/ && $8 == "connected" {
                n = split($2, e, ",")
                split(e[1], a, "@")
                p = a[1]
                sub(/^.*:/, "", p)
                h = a[1]
                sub(/:[0-9]+$/, "", h)
                if (n > 1 && e[2] != "") h = e[2]
                print h, p
                exit
            }')
        if [ -n "$replica" ]; then
            r=$(rha_cli "${replica% *}" "${replica#* }" CLUSTER FAILOVER)
            rha_log "asked replica $replica to take over: ${r:-no answer}"
        else
            rha_log "no connected replica to hand the master role to"
        fi
        asked=$(date +%s)
    fi
    sleep 1
done
rha_log "still master after ${wait}s; stopping anyway"
