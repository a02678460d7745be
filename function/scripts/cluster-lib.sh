# cluster-lib.sh: helpers of the cluster-mode scripts, sourced after lib.sh. Never executed.
#
# Environment, besides lib.sh's (REDIS_HA_CLI, REDIS_HA_CLI_ARGS, REDISCLI_AUTH,
# REDIS_HA_ANNOUNCE_HOST, REDIS_HA_PORT, REDIS_HA_TIMEOUT):
#   REDIS_HA_CLUSTER_NODES  every Redis node of the cluster as SHARD/HOST:PORT, space-separated,
#                           shard by shard; a shard's first node is its master when the
#                           shard is created
#   REDIS_HA_ANNOUNCE_IP    the IP this node announces on the cluster bus (the pod IP);
#                           peers learn a restarted node's new IP from it
#
# A node's shard is its StatefulSet, so shards never change members: the cluster does not
# migrate replicas between masters (cluster-allow-replica-migration no), and a node that
# joins always joins its own shard.

# Variables are prefixed per function: sh has no local variables, and lib.sh's rha_cli sets
# _h and _p.

# rha_cli_err HOST PORT ARGS...: rha_cli that also prints an error reply, which redis-cli
# --raw writes to stderr.
rha_cli_err() {
    _eh=$1
    _ep=$2
    shift 2
    # shellcheck disable=SC2086
    timeout "${REDIS_HA_TIMEOUT:-2}" "${REDIS_HA_CLI:-redis-cli}" --raw -h "$_eh" -p "$_ep" ${REDIS_HA_CLI_ARGS:-} "$@" 2>&1 | tail -n 1
}

# rha_cluster_field HOST PORT FIELD: prints FIELD of the node's CLUSTER INFO.
rha_cluster_field() {
    rha_cli "$1" "$2" CLUSTER INFO | tr -d '\r' | sed -n "s/^$3://p"
}

# rha_known HOST PORT: succeeds when the node knows other nodes, i.e. it has met the cluster.
rha_known() {
    _kk=$(rha_cluster_field "$1" "$2" cluster_known_nodes)
    [ "${_kk:-0}" -gt 1 ]
}

# rha_myself HOST PORT: prints the node's own line of CLUSTER NODES:
# ID IP:PORT@BUSPORT[,HOSTNAME] FLAGS MASTER PING PONG EPOCH LINK [SLOT...]
rha_myself() {
    rha_cli "$1" "$2" CLUSTER NODES | tr -d '\r' | awk '$3 ~ /(^|,)myself(,|$)/'
}

# rha_owns_slots HOST PORT: succeeds when the node owns hash slots in its own view.
rha_owns_slots() {
    [ "$(rha_myself "$1" "$2" | awk '{ print NF }')" -gt 8 ]
}

# rha_myid HOST PORT: prints the node's ID.
rha_myid() {
    rha_cli "$1" "$2" CLUSTER MYID | tr -d '\r'
}

# rha_bus_ip HOST PORT: prints the IP the node announces on the cluster bus; CLUSTER MEET
# takes an IP, not a host name.
rha_bus_ip() {
    rha_myself "$1" "$2" | awk '{ split($2, a, "@"); sub(/:[0-9]+$/, "", a[1]); print a[1] }'
}

# rha_role HOST PORT: prints master or slave.
rha_role() {
    rha_cli "$1" "$2" ROLE | sed -n 1p
}

# rha_dbsize HOST PORT: prints the number of keys the node holds.
rha_dbsize() {
    rha_cli "$1" "$2" DBSIZE
}

# rha_shards: prints every shard number once, in order.
rha_shards() {
    for _t in $REDIS_HA_CLUSTER_NODES; do echo "${_t%%/*}"; done | uniq
}

# rha_shard_members SHARD: prints HOST:PORT of every node of SHARD, first node first.
rha_shard_members() {
    for _t in $REDIS_HA_CLUSTER_NODES; do
        [ "${_t%%/*}" = "$1" ] && echo "${_t#*/}"
    done
}

# rha_shard_of HOST:PORT: prints the shard of a node.
rha_shard_of() {
    for _t in $REDIS_HA_CLUSTER_NODES; do
        [ "${_t#*/}" = "$1" ] && echo "${_t%%/*}" && return 0
    done
    return 1
}

# rha_all_nodes: prints HOST:PORT of every node.
rha_all_nodes() {
    for _t in $REDIS_HA_CLUSTER_NODES; do echo "${_t#*/}"; done
}

# rha_seed [SKIP_ADDR]: prints HOST:PORT of a node that has met the cluster, and fails when
# none has: the cluster has not been created yet.
rha_seed() {
    for _sn in $(rha_all_nodes); do
        [ "$_sn" = "${1:-}" ] && continue
        if rha_known "${_sn%:*}" "${_sn##*:}"; then
            echo "$_sn"
            return 0
        fi
    done
    return 1
}

# rha_shard_master SHARD: prints HOST:PORT of the node of SHARD that is a master in the
# cluster (owning slots, if several claim it), and fails when there is none yet.
rha_shard_master() {
    _smfound=""
    for _smn in $(rha_shard_members "$1"); do
        _smh=${_smn%:*}
        _smp=${_smn##*:}
        rha_known "$_smh" "$_smp" || continue
        [ "$(rha_role "$_smh" "$_smp")" = master ] || continue
        if rha_owns_slots "$_smh" "$_smp"; then
            echo "$_smn"
            return 0
        fi
        [ -n "$_smfound" ] || _smfound=$_smn
    done
    [ -n "$_smfound" ] || return 1
    echo "$_smfound"
}

# rha_wait SECONDS DESCRIPTION COMMAND...: runs COMMAND every second until it succeeds, at
# most SECONDS long.
rha_wait() {
    _wdeadline=$(($(date +%s) + $1))
    _wwhat=$2
    shift 2
    until "$@"; do
        if [ "$(date +%s)" -ge "$_wdeadline" ]; then
            rha_log "gave up waiting for $_wwhat"
            return 1
        fi
        sleep 1
    done
}

# rha_knows HOST PORT ID: succeeds when the node knows node ID.
rha_knows() {
    rha_cli "$1" "$2" CLUSTER NODES | awk -v id="$3" '$1 == id { found = 1 } END { exit !found }'
}

# rha_meet HOST:PORT SEED: makes the node meet the cluster through SEED (HOST:PORT of a
# member), and waits until both know each other. A node with keys outside a cluster is never
# joined: its data would be lost or mixed into the cluster.
rha_meet() {
    _mh=${1%:*}
    _mp=${1##*:}
    _mkeys=$(rha_dbsize "$_mh" "$_mp")
    if [ "${_mkeys:-1}" != 0 ]; then
        rha_log "$1 holds ${_mkeys:-unknown} keys but is not in the cluster: not joining it; move its data away or empty it"
        return 1
    fi
    _mip=$(rha_bus_ip "${2%:*}" "${2##*:}")
    _mr=$(rha_cli "$_mh" "$_mp" CLUSTER MEET "$_mip" "${2##*:}")
    if [ "$_mr" != OK ]; then
        rha_log "$1: CLUSTER MEET $_mip ${2##*:}: ${_mr:-no answer}"
        return 1
    fi
    _mid=$(rha_myid "$_mh" "$_mp")
    rha_wait 60 "$1 to join the cluster" rha_knows "${2%:*}" "${2##*:}" "$_mid"
}

# rha_replicate HOST:PORT MASTER: makes a node that has met the cluster a replica of MASTER
# (HOST:PORT). CLUSTER REPLICATE is refused until the node has heard of MASTER as a master
# through the cluster bus, so it is asked again every second for up to a minute.
rha_replicate() {
    _rmid=$(rha_myid "${2%:*}" "${2##*:}")
    _rdeadline=$(($(date +%s) + 60))
    while :; do
        # With --raw an error goes to stderr: keep it for the log.
        _rr=$(rha_cli_err "${1%:*}" "${1##*:}" CLUSTER REPLICATE "$_rmid")
        if [ "$_rr" = OK ]; then
            rha_log "$1 replicates $2"
            return 0
        fi
        if [ "$(date +%s)" -ge "$_rdeadline" ]; then
            rha_log "$1: CLUSTER REPLICATE $_rmid ($2): ${_rr:-no answer}"
            return 1
        fi
        sleep 1
    done
}

# rha_forget_replaced HOST:PORT: a node that lost its data joined under a new ID; the other
# nodes still list its old ID under the same host name, failed or without an address. Forget
# the old ID everywhere, so the cluster does not count it (a failed master among the voters)
# or gossip it back.
rha_forget_replaced() {
    _fh=${1%:*}
    _fp=${1##*:}
    _fid=$(rha_myid "$_fh" "$_fp")
    [ -n "$_fid" ] || return 1
    # The node itself never heard of its old ID: ask another.
    _fseed=$(rha_seed "$1") || return 1
    _fold=$(rha_cli "${_fseed%:*}" "${_fseed##*:}" CLUSTER NODES | tr -d '\r' | awk -v host="$_fh" -v port="$_fp" -v id="$_fid" '
        $1 != id && $3 !~ /myself/ && ($3 ~ /fail|noaddr/ || $8 == "disconnected") {
            n = split($2, e, ",")
            split(e[1], a, "@")
            ip = a[1]
            sub(/:[0-9]+$/, "", ip)
            p = a[1]
            sub(/^.*:/, "", p)
            if ((n > 1 && e[2] == host && (p == port || p == 0)) || (ip == host && p == port)) print $1
        }')
    for _fo in $_fold; do
        for _fn in $(rha_all_nodes); do
            [ "$_fn" = "$1" ] || rha_cli "${_fn%:*}" "${_fn##*:}" CLUSTER FORGET "$_fo" >/dev/null
        done
        rha_cli "$_fh" "$_fp" CLUSTER FORGET "$_fo" >/dev/null
        rha_log "forgot $_fo, the ID $1 had before it lost its data"
    done
}

# rha_settle_in_shard HOST:PORT: a node that met the cluster but stopped short of replicating
# (a join cut short) is an empty master beside its shard's master: make it that master's
# replica. Succeeds when there is nothing to do.
rha_settle_in_shard() {
    [ "$(rha_role "${1%:*}" "${1##*:}")" = master ] || return 0
    rha_owns_slots "${1%:*}" "${1##*:}" && return 0
    _sshard=$(rha_shard_of "$1") || return 1
    _smaster=$(rha_shard_master "$_sshard") || return 0
    [ "$_smaster" != "$1" ] || return 0
    rha_log "$1 is an empty master beside $_smaster in shard $_sshard: making it a replica"
    rha_replicate "$1" "$_smaster" || return 1
    rha_forget_replaced "$1"
}

# rha_join_shard HOST:PORT: brings a node that has not met the cluster into its own shard: as
# a replica of the shard's master. Fails when the cluster or the shard's master does not
# exist yet, which only cluster-reconcile.sh creates.
rha_join_shard() {
    _jshard=$(rha_shard_of "$1") || return 1
    _jseed=$(rha_seed "$1") || return 1
    _jmaster=$(rha_shard_master "$_jshard") || return 1
    rha_meet "$1" "$_jseed" || return 1
    rha_replicate "$1" "$_jmaster" || return 1
    rha_forget_replaced "$1"
}
