#!/bin/sh
# cluster-init.sh: writes the config a cluster-mode Redis node starts with: an include of the
# shared redis.conf plus this node's own lines: the host name and IP it announces to clients
# and to the other nodes, and the passwords.
#
# Everything else a node needs to know (its ID, its shard's master, the other nodes) is in
# nodes.conf on the data volume, which Redis keeps itself. A node without it starts empty and
# cluster-poststart.sh brings it into its shard.
#
# Environment, besides lib.sh's and cluster-lib.sh's:
#   REDIS_HA_BASE_CONF  the shared redis.conf
#   REDIS_HA_CONF       the file to write
set -eu
. "$(dirname "$0")/lib.sh"

umask 077
{
    echo "# Written by cluster-init.sh when this node started; do not edit."
    echo "include $REDIS_HA_BASE_CONF"
    echo "cluster-announce-hostname $REDIS_HA_ANNOUNCE_HOST"
    if [ -n "${REDIS_HA_ANNOUNCE_IP:-}" ]; then
        echo "cluster-announce-ip $REDIS_HA_ANNOUNCE_IP"
    fi
    if [ -n "${REDISCLI_AUTH:-}" ]; then
        echo "requirepass $(rha_quote "$REDISCLI_AUTH")"
        echo "masterauth $(rha_quote "$REDISCLI_AUTH")"
    fi
} >"$REDIS_HA_CONF.tmp"
mv "$REDIS_HA_CONF.tmp" "$REDIS_HA_CONF"
rha_log "announcing $REDIS_HA_ANNOUNCE_HOST (${REDIS_HA_ANNOUNCE_IP:-no IP})"
