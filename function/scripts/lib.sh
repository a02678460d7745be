# lib.sh: helpers shared by the redis-ha pod scripts. Sourced, never executed.
#
# Every script reads its settings from the environment, so the same files run in the pods
# (the StatefulSets set the variables) and on a plain machine (set them yourself):
#   REDIS_HA_CLI            redis-cli or valkey-cli (default redis-cli)
#   REDIS_HA_CLI_ARGS       extra words for every call, e.g. --tls --cacert /path/ca.crt
#   REDISCLI_AUTH           the password; redis-cli reads it itself (valkey-cli reads
#                           VALKEYCLI_AUTH, set alongside), so it is never on a command
#                           line where ps could show it
#   REDIS_HA_MASTER_NAME    the Sentinel master name
#   REDIS_HA_SENTINELS      host:port of every Sentinel, space-separated
#   REDIS_HA_REDIS_NODES    host:port of every Redis node, space-separated; the first one is
#                           the master of a brand-new deployment
#   REDIS_HA_ANNOUNCE_HOST  the host name others reach this pod by
#   REDIS_HA_PORT           the port this pod's server listens on
#   REDIS_HA_TIMEOUT        seconds allowed for each redis-cli call (default 2)

rha_log() { echo "redis-ha: $*" >&2; }

# rha_cli HOST PORT ARGS...: one bounded redis-cli call; prints the raw reply.
rha_cli() {
    _h=$1
    _p=$2
    shift 2
    # REDIS_HA_CLI_ARGS is a list of words by design, hence unquoted.
    # shellcheck disable=SC2086
    timeout "${REDIS_HA_TIMEOUT:-2}" "${REDIS_HA_CLI:-redis-cli}" --raw -h "$_h" -p "$_p" ${REDIS_HA_CLI_ARGS:-} "$@" 2>/dev/null
}

# rha_sentinel_master [SKIP_ADDR]: prints "host port" of the master most Sentinels report,
# and fails when none knows one. SKIP_ADDR (host:port) leaves out the caller's own Sentinel.
# Asking all and taking the most common answer keeps one Sentinel with a stale view (say,
# just back from a partition) from deciding alone.
rha_sentinel_master() {
    _answers=""
    for _s in $REDIS_HA_SENTINELS; do
        [ "$_s" = "${1:-}" ] && continue
        _r=$(rha_cli "${_s%:*}" "${_s##*:}" SENTINEL GET-MASTER-ADDR-BY-NAME "$REDIS_HA_MASTER_NAME") || continue
        _host=$(printf '%s\n' "$_r" | sed -n 1p)
        _port=$(printf '%s\n' "$_r" | sed -n 2p)
        case "$_port" in '' | *[!0-9]*) continue ;; esac
        [ -n "$_host" ] || continue
        _answers="${_answers}${_host} ${_port}
"
    done
    [ -n "$_answers" ] || return 1
    printf '%s' "$_answers" | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2, $3 }'
}

# rha_peer_master [SKIP_ADDR]: prints "host port" of a Redis node that reports role master.
rha_peer_master() {
    for _n in $REDIS_HA_REDIS_NODES; do
        [ "$_n" = "${1:-}" ] && continue
        _role=$(rha_cli "${_n%:*}" "${_n##*:}" ROLE | sed -n 1p) || continue
        if [ "$_role" = master ]; then
            echo "${_n%:*} ${_n##*:}"
            return 0
        fi
    done
    return 1
}

# rha_peer_up SKIP_ADDR: succeeds when any other Redis node answers.
rha_peer_up() {
    for _n in $REDIS_HA_REDIS_NODES; do
        [ "$_n" = "$1" ] && continue
        [ -n "$(rha_cli "${_n%:*}" "${_n##*:}" ROLE | sed -n 1p)" ] && return 0
    done
    return 1
}

# rha_bootstrap_master: prints "host port" of the first Redis node.
rha_bootstrap_master() {
    # shellcheck disable=SC2086
    set -- $REDIS_HA_REDIS_NODES
    echo "${1%:*} ${1##*:}"
}

# rha_quote VALUE: VALUE as a double-quoted redis.conf/sentinel.conf string.
rha_quote() {
    printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

# rha_wait_resolvable HOST SECONDS: waits until HOST resolves, because Sentinel with
# resolve-hostnames refuses to start on a name that does not (yet) resolve.
rha_wait_resolvable() {
    command -v getent >/dev/null 2>&1 || return 0
    _deadline=$(($(date +%s) + $2))
    until getent hosts "$1" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$_deadline" ]; then
            rha_log "$1 does not resolve after $2s; starting anyway"
            return 0
        fi
        sleep 1
    done
}
