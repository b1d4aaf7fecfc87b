#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the store's tests.
#
#   bash tests/pg/cluster.sh start DIR   # prints the base URL as its last line
#   bash tests/pg/cluster.sh stop DIR    # stops it and removes DIR
#   bash tests/pg/cluster.sh replica DIR PRIMARY_DIR
#                                        # a synchronous streaming replica of the
#                                        # cluster in PRIMARY_DIR; prints the
#                                        # multi-host URL of both (read-write first)
#   bash tests/pg/cluster.sh promote DIR # promotes the replica in DIR
#
# The cluster lives in DIR (its data in DIR/data), listens only on a unix
# socket in DIR (no TCP), keeps fsync and synchronous_commit on, and trusts
# local connections. initdb refuses to run as root: run as root (as CI does),
# the script creates the system user `hotline-pg` if missing and runs the
# server as that user; run as anyone else, it runs the server as them.
# Both commands are idempotent and print nothing else unless they fail.
# Debian's `postgresql` package must be installed (the newest version under
# /usr/lib/postgresql is used; pg_ctl on PATH otherwise).
set -euo pipefail

usage() {
    echo "usage: $0 start|stop|promote DIR, or $0 replica DIR PRIMARY_DIR" >&2
    exit 2
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
primary=${3:-}

bindir() {
    local newest
    newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$newest" ] && [ -x "$newest/pg_ctl" ]; then
        echo "$newest"
        return
    fi
    if command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return
    fi
    echo "$0: no PostgreSQL server binaries found: install Debian's postgresql package" >&2
    exit 1
}

# The user the server runs as, and how to run a command as that user.
if [ "$(id -u)" -eq 0 ]; then
    pguser=hotline-pg
    as_pg() { runuser -u "$pguser" -- "$@"; }
else
    pguser=$(id -un)
    as_pg() { "$@"; }
fi

fail_with_log() {
    echo "$0: $1" >&2
    for f in "$dir/initdb.log" "$dir/server.log"; do
        [ -f "$f" ] && tail -n 20 "$f" >&2
    done
    exit 1
}

running() {
    [ -f "$dir/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

url() {
    echo "postgresql:///postgres?host=$dir&user=$pguser"
}

case "$cmd" in
start)
    bin=$(bindir)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    # The socket's path must fit in sun_path (107 bytes).
    if [ $(( ${#dir} + 18 )) -gt 107 ]; then
        echo "$0: $dir is too long a path for a unix socket" >&2
        exit 1
    fi
    if [ "$(id -u)" -eq 0 ]; then
        if ! id "$pguser" >/dev/null 2>&1; then
            useradd --system --no-create-home --home-dir /nonexistent \
                --shell /usr/sbin/nologin "$pguser"
        fi
        chown "$pguser:" "$dir"
    fi
    chmod 0700 "$dir"
    # The server's user must reach DIR through its parents.
    as_pg test -x "$dir" || {
        echo "$0: $pguser cannot reach $dir (a parent directory is closed to it)" >&2
        exit 1
    }
    cd "$dir"
    if running; then
        url
        exit 0
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_pg "$bin/initdb" -D "$dir/data" -U "$pguser" --auth-local=trust \
            --auth-host=reject --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
            fail_with_log "initdb failed"
        cat >>"$dir/data/postgresql.conf" <<EOF
# tests/pg/cluster.sh: a unix socket only, and every commit durable.
listen_addresses = ''
unix_socket_directories = '$dir'
unix_socket_permissions = 0700
fsync = on
synchronous_commit = on
full_page_writes = on
EOF
    fi
    # The server writes its log as its own user.
    as_pg touch "$dir/server.log"
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1 ||
        fail_with_log "the server did not start"
    for _ in $(seq 1 60); do
        if "$bin/pg_isready" -q -h "$dir" -U "$pguser" -d postgres; then
            url
            exit 0
        fi
        sleep 0.5
    done
    fail_with_log "the server is not ready after 30 s"
    ;;
replica)
    [ -n "$primary" ] || usage
    bin=$(bindir)
    primary=$(cd "$primary" && pwd -P)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    if [ "$(id -u)" -eq 0 ]; then
        chown "$pguser:" "$dir"
    fi
    chmod 0700 "$dir"
    cd "$dir"
    if ! running; then
        rm -rf -- "${dir:?}/data"
        as_pg "$bin/pg_basebackup" -D "$dir/data" -R -X stream --checkpoint=fast \
            -d "host=$primary user=$pguser dbname=postgres application_name=replica1" \
            >"$dir/initdb.log" 2>&1 || fail_with_log "pg_basebackup failed"
        printf "# tests/pg/cluster.sh replica: its own socket directory.\nunix_socket_directories = '%s'\n" \
            "$dir" >>"$dir/data/postgresql.conf"
        as_pg touch "$dir/server.log"
        as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1 ||
            fail_with_log "the replica did not start"
    fi
    # Every commit on the primary waits for the replica from now on.
    "$bin/psql" -q -h "$primary" -U "$pguser" -d postgres \
        -c "ALTER SYSTEM SET synchronous_standby_names = 'replica1'" \
        -c "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 1 120); do
        state=$("$bin/psql" -At -h "$primary" -U "$pguser" -d postgres \
            -c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'replica1'")
        if [ "$state" = "sync" ]; then
            echo "postgresql:///postgres?host=$primary,$dir&user=$pguser&target_session_attrs=read-write"
            exit 0
        fi
        sleep 0.5
    done
    fail_with_log "the replica is not synchronous after 60 s"
    ;;
promote)
    bin=$(bindir)
    dir=$(cd "$dir" && pwd -P)
    cd "$dir"
    as_pg "$bin/pg_ctl" -D "$dir/data" -w -t 60 promote >/dev/null 2>&1 ||
        fail_with_log "the replica was not promoted"
    ;;
stop)
    [ -d "$dir" ] || exit 0
    dir=$(cd "$dir" && pwd -P)
    if [ -f "$dir/data/postmaster.pid" ]; then
        bin=$(bindir)
        cd "$dir"
        if running; then
            as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
                fail_with_log "the server did not stop"
        fi
        cd /
    fi
    rm -rf "$dir"
    ;;
*)
    usage
    ;;
esac
