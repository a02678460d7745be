#!/bin/sh
# cluster-probe.sh KIND: the liveness and readiness checks of a cluster-mode Redis container.
# Exits 0 when healthy. KIND is one of:
#   live   Redis answers (PONG, or LOADING while it loads its data from disk)
#   ready  Redis answers PONG, its view of the cluster is healthy (cluster_state:ok: every
#          slot served) and, as a replica, its link to its master is up
# A node is not ready before the cluster is created, so a StatefulSet rolls one pod of a
# shard at a time only while the cluster serves.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster-lib.sh"

host=${REDIS_HA_PROBE_HOST:-127.0.0.1}
case "${1:-}" in
live)
    case "$(rha_cli "$host" "$REDIS_HA_PORT" PING)" in
    PONG | LOADING*) exit 0 ;;
    esac
    exit 1
    ;;
ready)
    [ "$(rha_cli "$host" "$REDIS_HA_PORT" PING)" = PONG ] || exit 1
    [ "$(rha_cluster_field "$host" "$REDIS_HA_PORT" cluster_state)" = ok ] || exit 1
    info=$(rha_cli "$host" "$REDIS_HA_PORT" INFO replication) || exit 1
    case "$info" in
    *role:master*) exit 0 ;;
    *master_link_status:up*) exit 0 ;;
    esac
    exit 1
    ;;
*)
    echo "usage: cluster-probe.sh live|ready" >&2
    exit 2
    ;;
esac
