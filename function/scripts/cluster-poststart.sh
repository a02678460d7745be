#!/bin/sh
# cluster-poststart.sh: runs beside a cluster-mode Redis node once it starts (postStart hook)
# and keeps it in its shard:
#
# - A node that is in the cluster asks every other node to meet it at its current IP. Pod IPs
#   change on every restart, and Redis Cluster connects its bus by IP: after all pods
#   restarted, each node's nodes.conf holds only stale addresses, and no node could reach
#   another without this.
# - A node that lost its data (nodes.conf included) while the cluster exists joins its own
#   shard as a replica of the shard's master, and the cluster forgets its old ID; one whose
#   join was cut short (an empty master beside its shard's master) becomes that replica.
# - Before the cluster exists it does nothing: cluster-reconcile.sh creates it, and needs
#   every node untouched.
#
# It always exits 0 (a failing postStart hook would kill the container) and is bounded by
# REDIS_HA_START_WAIT seconds (default 120) of waiting for the server to answer.
# Environment, besides lib.sh's and cluster-lib.sh's: REDIS_HA_ANNOUNCE_IP is required for
# the meet.
set -u
# Whatever happens below (even an unset variable), the hook succeeds.
trap 'exit 0' EXIT
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster-lib.sh"

self="$REDIS_HA_ANNOUNCE_HOST:$REDIS_HA_PORT"
host=${REDIS_HA_PROBE_HOST:-127.0.0.1}

pong() { [ "$(rha_cli "$host" "$REDIS_HA_PORT" PING)" = PONG ]; }
rha_wait "${REDIS_HA_START_WAIT:-120}" "this node to answer PING" pong || exit 0

if rha_known "$host" "$REDIS_HA_PORT"; then
    for n in $(rha_all_nodes); do
        [ "$n" = "$self" ] && continue
        rha_cli "${n%:*}" "${n##*:}" CLUSTER MEET "$REDIS_HA_ANNOUNCE_IP" "$REDIS_HA_PORT" >/dev/null
    done
    rha_log "asked the other nodes to meet this node at $REDIS_HA_ANNOUNCE_IP"
    rha_settle_in_shard "$self"
    exit 0
fi
if ! seed=$(rha_seed "$self"); then
    rha_log "no cluster yet; cluster-reconcile.sh creates it"
    exit 0
fi
if rha_owns_slots "$host" "$REDIS_HA_PORT"; then
    rha_log "owns slots but has not met the cluster; cluster-reconcile.sh joins it"
    exit 0
fi
if rha_join_shard "$self"; then
    rha_log "joined shard $(rha_shard_of "$self") through $seed"
else
    rha_log "could not join shard $(rha_shard_of "$self") yet; cluster-reconcile.sh joins it"
fi
exit 0
