#!/bin/sh
# cluster-reconcile.sh: makes the Redis Cluster match REDIS_HA_CLUSTER_NODES. Run by the
# cluster Job, once per shape of the cluster (shards x replicas per shard) and whenever the
# Job's pod template changes; safe to run again at any time and after being interrupted at
# any point, because every step first looks at what is already done:
#
# 1. Wait until every node answers (bounded by REDIS_HA_CLUSTER_WAIT seconds, default 600;
#    the Job retries after a failure).
# 2. Create the cluster once: only while no node has met another does the first node of each
#    shard get its even share of the 16384 hash slots (unless it already owns slots), and
#    then meet the first shard's master. A node that holds keys is never touched.
# 3. Bring every node that has not met the cluster into its shard: a node that owns slots
#    (a creation interrupted before the meet) meets the cluster as the master it is; the
#    first node of a shard without a master (a shard just added) joins as an empty master;
#    every other node joins as a replica of its shard's master. A node that met the cluster
#    but is an empty master beside its shard's master (a join interrupted before the
#    replicate) becomes its replica.
# 4. Move slots onto masters that own none (new shards): redis-cli --cluster rebalance
#    --cluster-use-empty-masters, which migrates keys slot by slot with MIGRATE while the
#    cluster serves; clients that follow MOVED and ASK (the tunnel does) lose no write.
#    Open slots first get REDIS_HA_MIGRATION_WAIT seconds (default 600) to close: an earlier
#    cluster Job, replaced while it ran, may still be migrating them, and two migrations of
#    one slot could leave keys on a node that does not own it. A migration still open after
#    that was left half done by an interrupted run and is finished (--cluster fix). Slots no
#    node owns are never assigned by this script: that would hide a shard that is down, and
#    its keys with it.
# 5. Wait until every node reports cluster_state:ok and redis-cli --cluster check passes.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster-lib.sh"

# cluster_cli ARGS...: redis-cli --cluster, unbounded (a rebalance takes as long as the data
# it moves) and with the same TLS words as every other call.
cluster_cli() {
    # shellcheck disable=SC2086
    "${REDIS_HA_CLI:-redis-cli}" ${REDIS_HA_CLI_ARGS:-} "$@"
}

fail() {
    rha_log "$*"
    exit 1
}

all_answer() {
    for n in $(rha_all_nodes); do
        [ "$(rha_cli "${n%:*}" "${n##*:}" PING)" = PONG ] || return 1
    done
}

rha_wait "${REDIS_HA_CLUSTER_WAIT:-600}" "every node to answer PING" all_answer ||
    fail "not every node of $(rha_all_nodes | tr '\n' ' ')answers; the Job retries"

# 2. Create.
shards=$(rha_shards | wc -l)
if ! rha_seed >/dev/null; then
    rha_log "no node has met another: creating the cluster with $shards shards"
    first=""
    k=0
    for s in $(rha_shards); do
        m=$(rha_shard_members "$s" | sed -n 1p)
        if ! rha_owns_slots "${m%:*}" "${m##*:}"; then
            [ "$(rha_dbsize "${m%:*}" "${m##*:}")" = 0 ] || fail "$m holds keys but is in no cluster: empty it or move its data away"
            lo=$((k * 16384 / shards))
            hi=$(((k + 1) * 16384 / shards - 1))
            r=$(rha_cli "${m%:*}" "${m##*:}" CLUSTER ADDSLOTSRANGE "$lo" "$hi")
            [ "$r" = OK ] || fail "$m: CLUSTER ADDSLOTSRANGE $lo $hi: ${r:-no answer}"
            rha_log "$m (shard $s) owns slots $lo-$hi"
        fi
        # Distinct config epochs from the start, as redis-cli --cluster create sets them, so
        # the masters need not resolve a collision first. Refused once the node has met
        # another or has an epoch: then it is not needed.
        rha_cli "${m%:*}" "${m##*:}" CLUSTER SET-CONFIG-EPOCH "$((k + 1))" >/dev/null
        if [ -z "$first" ]; then
            first=$m
        else
            ip=$(rha_bus_ip "${first%:*}" "${first##*:}")
            r=$(rha_cli "${m%:*}" "${m##*:}" CLUSTER MEET "$ip" "${first##*:}")
            [ "$r" = OK ] || fail "$m: CLUSTER MEET $ip ${first##*:}: ${r:-no answer}"
        fi
        k=$((k + 1))
    done
    rha_wait 60 "the shard masters to meet" rha_seed >/dev/null || fail "the shard masters did not meet"
fi

# 3. Join.
for s in $(rha_shards); do
    for n in $(rha_shard_members "$s"); do
        if rha_known "${n%:*}" "${n##*:}"; then
            rha_settle_in_shard "$n" || fail "$n could not become a replica in shard $s"
            continue
        fi
        seed=$(rha_seed "$n") || fail "no node has met the cluster"
        if rha_owns_slots "${n%:*}" "${n##*:}"; then
            rha_log "$n owns slots but has not met the cluster: joining it as a master"
            rha_meet "$n" "$seed" || fail "$n could not meet the cluster"
        elif master=$(rha_shard_master "$s"); then
            rha_log "$n joins shard $s as a replica of $master"
            rha_meet "$n" "$seed" || fail "$n could not meet the cluster"
            rha_replicate "$n" "$master" || fail "$n could not become a replica of $master"
            rha_forget_replaced "$n"
        else
            rha_log "$n joins as the master of the new shard $s"
            rha_meet "$n" "$seed" || fail "$n could not meet the cluster"
            rha_forget_replaced "$n"
        fi
    done
done

state_ok() {
    for n in $(rha_all_nodes); do
        [ "$(rha_cluster_field "${n%:*}" "${n##*:}" cluster_state)" = ok ] || return 1
    done
}

# 4. Rebalance.
seed=$(rha_seed) || fail "no node has met the cluster"
# Slots the cluster agrees on are the precondition of a rebalance: wait for the joins above
# to propagate.
consistent() { cluster_cli --cluster check "$seed" >/dev/null 2>&1; }
no_open_slots() { ! cluster_cli --cluster check "$seed" 2>&1 | grep -q "slots are open"; }
uncovered() { cluster_cli --cluster check "$seed" 2>&1 | grep -q "Not all 16384 slots are covered"; }
if ! rha_wait "${REDIS_HA_MIGRATION_WAIT:-600}" "the open slots to close (a migration in progress)" no_open_slots; then
    # --cluster fix would also give uncovered slots to some node.
    ! uncovered || fail "slots are open and not covered, a shard is down: not fixing; $(cluster_cli --cluster check "$seed" 2>&1)"
    rha_log "finishing a slot migration an earlier run left open"
    cluster_cli --cluster fix "$seed" --cluster-yes || fail "redis-cli --cluster fix failed"
fi
if ! rha_wait 60 "the nodes to agree on the slots" consistent; then
    ! uncovered || fail "slots are not covered, a shard is down: not assigning them; $(cluster_cli --cluster check "$seed" 2>&1)"
    fail "the cluster is not consistent: $(cluster_cli --cluster check "$seed" 2>&1)"
fi
empty=""
for s in $(rha_shards); do
    m=$(rha_shard_master "$s") || fail "shard $s has no master"
    rha_owns_slots "${m%:*}" "${m##*:}" || empty="$empty $m"
done
if [ -n "$empty" ]; then
    # A master that just joined reports cluster_state:fail for up to cluster-node-timeout
    # (it waits before it serves, in case the cluster reconfigures it), and refuses the keys
    # MIGRATE sends it meanwhile (CLUSTERDOWN).
    rha_wait 120 "cluster_state:ok on every node" state_ok || fail "the cluster is not ok on every node: not moving slots"
    rha_log "moving slots onto the masters of new shards:$empty"
    cluster_cli --cluster rebalance "$seed" --cluster-use-empty-masters || fail "redis-cli --cluster rebalance failed; the next run finishes it"
fi

# 5. Verify.
rha_wait 120 "cluster_state:ok on every node" state_ok || fail "the cluster is not ok on every node"
rha_wait 60 "redis-cli --cluster check to pass" consistent || fail "redis-cli --cluster check fails: $(cluster_cli --cluster check "$seed" 2>&1)"
rha_log "the cluster has $shards shards and every node: done"
