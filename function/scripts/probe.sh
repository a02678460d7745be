#!/bin/sh
# probe.sh KIND: the liveness and readiness checks of the Redis and Sentinel containers.
# Exits 0 when healthy. KIND is one of:
#   redis-live      Redis answers (PONG, or LOADING while it loads its data from disk)
#   redis-ready     Redis answers PONG and, as a replica, its link to the master is up
#   sentinel-live   Sentinel answers PING
#   sentinel-ready  Sentinel knows the master
# The server is reached at REDIS_HA_PROBE_HOST (default 127.0.0.1) and REDIS_HA_PORT.
set -u
. "$(dirname "$0")/lib.sh"

host=${REDIS_HA_PROBE_HOST:-127.0.0.1}
case "${1:-}" in
redis-live)
    case "$(rha_cli "$host" "$REDIS_HA_PORT" PING)" in
    PONG | LOADING* | MASTERDOWN*) exit 0 ;;
    esac
    exit 1
    ;;
redis-ready)
    [ "$(rha_cli "$host" "$REDIS_HA_PORT" PING)" = PONG ] || exit 1
    info=$(rha_cli "$host" "$REDIS_HA_PORT" INFO replication) || exit 1
    case "$info" in
    *role:master*) exit 0 ;;
    *master_link_status:up*) exit 0 ;;
    esac
    exit 1
    ;;
sentinel-live)
    [ "$(rha_cli "$host" "$REDIS_HA_PORT" PING)" = PONG ]
    ;;
sentinel-ready)
    port=$(rha_cli "$host" "$REDIS_HA_PORT" SENTINEL GET-MASTER-ADDR-BY-NAME "$REDIS_HA_MASTER_NAME" | sed -n 2p)
    case "$port" in '' | *[!0-9]*) exit 1 ;; esac
    ;;
*)
    echo "usage: probe.sh redis-live|redis-ready|sentinel-live|sentinel-ready" >&2
    exit 2
    ;;
esac
