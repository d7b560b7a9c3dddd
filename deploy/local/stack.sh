#!/bin/sh
# hookline's local stack: a single-node Kafka (KRaft), a PostgreSQL server and the
# daemons, all on 127.0.0.1, all state (data, logs, pids) in one stack directory.
# The one entry point for `make up/down/run`, the demo and the integration tests.
#
#   stack.sh up               infra, then ingress router forwarder syncer api; returns when all are ready
#   stack.sh infra            Kafka + PostgreSQL (reused if running), migrate, topics ensure
#   stack.sh down [--purge]   stop everything this stack dir started (--purge: and its data)
#   stack.sh start|stop|kill NAME   one daemon: ingress|router|forwarder|syncer|api
#   stack.sh broker start|stop|kill N   one Kafka node (1..HOOKLINE_STACK_KAFKA_NODES)
#   stack.sh status | env | logs [NAME]
#
# Settings (environment):
#   HOOKLINE_STACK_DIR     state directory          (default <repo>/.stack)
#   HOOKLINE_BIN_DIR       where the binaries are   (default <repo>/build/release/bin)
#   HOOKLINE_PORT_OFFSET   added to every port      (default 0)
#   HOOKLINE_CACHE_DIR     Kafka jars, see install-deps.sh (default <repo>/.cache)
#   HOOKLINE_STACK_KAFKA_JVM_OPTS  broker JVM options (default -Xms256m -Xmx512m)
#   HOOKLINE_STACK_KAFKA_PROPERTIES  extra broker settings, space-separated key=value
#                          pairs appended to each node's server.properties (they win
#                          over the defaults), e.g. "num.io.threads=2 num.network.threads=1"
#   HOOKLINE_STACK_KAFKA_NODES     1, or 3 for a three-node KRaft cluster (replication
#                          factor 3, min.insync.replicas 2); node N listens on
#                          19092+offset+2(N-1), its controller on the port above
#   HOOKLINE_STACK_SECURE  1: like a production cluster: Kafka only on SASL_SSL,
#                          PostgreSQL only over TLS with a password, both with
#                          certificates of a CA the stack makes; env.sh then sets
#                          HOOKLINE_KAFKA_SECURITY_PROTOCOL & co and sslmode=verify-full
#   HOOKLINE_STACK_KAFKA_SASL  the clients' SASL mechanism on a secure stack: SCRAM-SHA-512
#                          or PLAIN (default: SCRAM-SHA-512 when the binaries load
#                          librdkafka >= 2.6.1, e.g. with LD_LIBRARY_PATH=.cache/librdkafka-2.6.1, else
#                          PLAIN: older librdkafka fails SCRAM against Kafka 4 brokers,
#                          librdkafka issue 4895); the brokers accept both
# (HOOKLINE_STACK_*, never HOOKLINE_KAFKA_*: the daemons pass that prefix to librdkafka.)
# Both modes are chosen when the stack dir is made; change them after `down --purge`.
# Daemons inherit the caller's environment (e.g. HOOKLINE_FORWARDER_TIMEOUT_MS), with the
# stack's addresses from env.sh on top. Logs and pids: $HOOKLINE_STACK_DIR/NAME.{log,pid}.
# Secrets at rest are encrypted with a random key made once per stack dir
# ($HOOKLINE_STACK_DIR/encryption.key, mode 600), exported as HOOKLINE_ENCRYPTION_KEY
# to everything the stack starts and in env.sh.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
STACK_DIR=$(abspath "${HOOKLINE_STACK_DIR:-$ROOT/.stack}")
BIN_DIR=$(abspath "${HOOKLINE_BIN_DIR:-$ROOT/build/release/bin}")
OFFSET=${HOOKLINE_PORT_OFFSET:-0}
KAFKA_CACHE=${HOOKLINE_CACHE_DIR:-$ROOT/.cache}/kafka-4.1.1
PG_BIN=/usr/lib/postgresql/15/bin
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
DAEMONS="ingress router forwarder syncer api"

NODES=${HOOKLINE_STACK_KAFKA_NODES:-1}
SECURE=${HOOKLINE_STACK_SECURE:-0}
TLS_DIR=$STACK_DIR/tls
case $OFFSET in '' | *[!0-9]*) echo "stack: HOOKLINE_PORT_OFFSET must be a number" >&2; exit 2 ;; esac
case $NODES in 1 | 3) ;; *) echo "stack: HOOKLINE_STACK_KAFKA_NODES must be 1 or 3" >&2; exit 2 ;; esac
case $SECURE in 0 | 1) ;; *) echo "stack: HOOKLINE_STACK_SECURE must be 0 or 1" >&2; exit 2 ;; esac
# librdkafka before 2.6.1 repeats the client nonce in SCRAM's final message, which Kafka 4
# brokers reject (RFC 5802's strict check): PLAIN (over TLS) is what those clients can use.
# What counts is the library the binaries load (LD_LIBRARY_PATH may name a newer one, as
# the tests do with the one install-deps.sh fetches): `hookline version` says; before a
# build, what pkg-config says.
rdkafka_scram_ok() {
    v=$("$BIN_DIR/hookline" version --json 2>/dev/null | sed -n 's/.*"librdkafka": "\([0-9.]*\)".*/\1/p')
    [ -n "$v" ] || v=$(pkg-config --modversion rdkafka 2>/dev/null || echo 0)
    printf '%s\n2.6.1\n' "$v" | sort -C -V -r
}
if [ -z "${HOOKLINE_STACK_KAFKA_SASL:-}" ]; then
    if rdkafka_scram_ok; then SASL_MECHANISM=SCRAM-SHA-512; else SASL_MECHANISM=PLAIN; fi
else
    SASL_MECHANISM=$HOOKLINE_STACK_KAFKA_SASL
fi
case $SASL_MECHANISM in SCRAM-SHA-512 | PLAIN) ;;
*) echo "stack: HOOKLINE_STACK_KAFKA_SASL must be SCRAM-SHA-512 or PLAIN" >&2; exit 2 ;; esac
if [ -n "${HOOKLINE_KAFKA_JVM_OPTS:-}" ]; then
    echo "stack: HOOKLINE_KAFKA_JVM_OPTS is now HOOKLINE_STACK_KAFKA_JVM_OPTS (every daemon would pass" \
        "HOOKLINE_KAFKA_* to librdkafka, which has no jvm.opts): rename it" >&2
    exit 2
fi
KAFKA_PORT=$((19092 + OFFSET))
PG_PORT=$((15432 + OFFSET))
INGRESS_PORT=$((8480 + OFFSET))
API_PORT=$((8485 + OFFSET))

say() { printf 'stack: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

admin_port() {
    case $1 in
    ingress) echo $((9480 + OFFSET)) ;;
    router) echo $((9481 + OFFSET)) ;;
    forwarder) echo $((9482 + OFFSET)) ;;
    syncer) echo $((9483 + OFFSET)) ;;
    api) echo $((9484 + OFFSET)) ;;
    *) die "unknown daemon '$1' (ingress|router|forwarder|syncer|api)" ;;
    esac
}

# ---- process helpers ---------------------------------------------------------------
# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    python3 -c 'import socket,sys
s = socket.socket(); s.settimeout(1)
sys.exit(s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0)' "$1"
}

# Fails naming the port when something that is not ours listens on it.
port_free() {
    ! port_open "$1" || die "port $1 ($2) is taken by another program; stop it or pick \
other ports with HOOKLINE_PORT_OFFSET (now $OFFSET)"
}

# Alive and not a zombie (a reaper may not have collected an exited daemon yet).
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    case $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) in Z* | '') return 1 ;; esac
}

# Prints the pid recorded in $STACK_DIR/$1.pid if that process is alive and its command
# line contains $2 (so a recycled pid is never taken for ours); fails otherwise.
running_pid() {
    pid=$(cat "$STACK_DIR/$1.pid" 2>/dev/null) || return 1
    alive "$pid" && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$2" && echo "$pid"
}

# wait_gone PID SECONDS: true when PID exited within SECONDS.
wait_gone() {
    i=0
    while alive "$1"; do
        [ "$i" -lt $(($2 * 10)) ] || return 1
        sleep 0.1
        i=$((i + 1))
    done
}

# terminate NAME PID SECONDS: SIGTERM, then SIGKILL after SECONDS. Fails if it had to kill.
terminate() {
    kill -TERM "$2" 2>/dev/null || true
    if ! wait_gone "$2" "$3"; then
        say "$1 (pid $2) did not exit within $3 s of SIGTERM: SIGKILL"
        kill -KILL "$2" 2>/dev/null || true
        wait_gone "$2" 5 || true
        return 1
    fi
}

log_tail() { say "last lines of $1:"; tail -n "${2:-40}" "$1" >&2 2>/dev/null || true; }

# ---- stack directory and env.sh ------------------------------------------------------
KEY_FILE=$STACK_DIR/encryption.key

# Makes the stack's encryption key once (what `hookline secrets new-key` prints; made
# here with python3 so that it exists before the CLI is built). Kept across restarts:
# without it the stored secrets cannot be read.
key_init() {
    [ ! -s "$KEY_FILE" ] || return 0
    if ! (umask 077 && python3 -c 'import base64, os, time
print("local-%s:%s" % (time.strftime("%Y%m%d", time.gmtime()), base64.b64encode(os.urandom(32)).decode()))' \
        >"$KEY_FILE.tmp"); then
        die "cannot write $KEY_FILE"
    fi
    mv "$KEY_FILE.tmp" "$KEY_FILE"
}

# Every node's client port, comma-separated.
kafka_brokers() {
    b=1 brokers=
    while [ "$b" -le "$NODES" ]; do
        brokers="$brokers${brokers:+,}127.0.0.1:$((KAFKA_PORT + 2 * (b - 1)))"
        b=$((b + 1))
    done
    echo "$brokers"
}

# A secure stack's secrets (made once by tls_init): the Kafka user's and PostgreSQL's passwords.
secret() { cat "$TLS_DIR/$1.password" 2>/dev/null || echo missing; }

render_env() {
    if [ "$SECURE" = 1 ]; then
        db_url="postgresql://hookline:$(secret pg)@127.0.0.1:$PG_PORT/hookline?sslmode=verify-full&sslrootcert=$TLS_DIR/ca.pem"
    else
        db_url="postgresql://hookline@127.0.0.1:$PG_PORT/hookline"
    fi
    for kv in \
        "HOOKLINE_DATABASE_URL=$db_url" \
        "HOOKLINE_KAFKA_BROKERS=$(kafka_brokers)" \
        "HOOKLINE_PUBLIC_URL=http://127.0.0.1:$INGRESS_PORT" \
        "HOOKLINE_INGRESS_PORT=$INGRESS_PORT" \
        "HOOKLINE_STACK_INGRESS_ADMIN_PORT=$(admin_port ingress)" \
        "HOOKLINE_STACK_ROUTER_ADMIN_PORT=$(admin_port router)" \
        "HOOKLINE_STACK_FORWARDER_ADMIN_PORT=$(admin_port forwarder)" \
        "HOOKLINE_STACK_SYNCER_ADMIN_PORT=$(admin_port syncer)" \
        "HOOKLINE_STACK_API_ADMIN_PORT=$(admin_port api)" \
        "HOOKLINE_API_PORT=$API_PORT" \
        "HOOKLINE_API_URL=http://127.0.0.1:$API_PORT" \
        "HOOKLINE_PORT_OFFSET=$OFFSET" \
        "HOOKLINE_BIN_DIR=$BIN_DIR" \
        "HOOKLINE_STACK_DIR=$STACK_DIR" \
        "HOOKLINE_STACK_KAFKA_NODES=$NODES" \
        "HOOKLINE_STACK_SECURE=$SECURE"; do
        printf "export %s='%s'\n" "${kv%%=*}" "${kv#*=}"
    done
    if [ "$SECURE" = 1 ]; then
        for kv in \
            "HOOKLINE_KAFKA_SECURITY_PROTOCOL=SASL_SSL" \
            "HOOKLINE_KAFKA_SASL_MECHANISMS=$SASL_MECHANISM" \
            "HOOKLINE_KAFKA_SASL_USERNAME=hookline" \
            "HOOKLINE_KAFKA_SASL_PASSWORD=$(secret kafka)" \
            "HOOKLINE_KAFKA_SSL_CA_LOCATION=$TLS_DIR/ca.pem"; do
            printf "export %s='%s'\n" "${kv%%=*}" "${kv#*=}"
        done
    fi
    [ ! -s "$KEY_FILE" ] || printf "export HOOKLINE_ENCRYPTION_KEY='%s'\n" "$(cat "$KEY_FILE")"
}

# A secure stack's CA, one certificate for 127.0.0.1 (Kafka's in a PKCS#12 keystore,
# PostgreSQL's as PEM) and random passwords, made once per stack dir.
tls_init() {
    [ ! -s "$TLS_DIR/server.p12" ] || return 0
    mkdir -p "$TLS_DIR"
    (
        umask 077
        cd "$TLS_DIR"
        for name in kafka pg keystore; do
            python3 -c 'import secrets; print(secrets.token_hex(16))' >"$name.password"
        done
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
            -subj /CN=hookline-stack-ca &&
            openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 &&
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >san.ext &&
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
                -days 30 -extfile san.ext &&
            openssl pkcs12 -export -in server.pem -inkey server.key -name broker \
                -passout "pass:$(cat keystore.password)" -out server.p12.tmp &&
            mv server.p12.tmp server.p12
    ) >"$STACK_DIR/tls.log" 2>&1 || { log_tail "$STACK_DIR/tls.log"; die "could not make the stack's certificates"; }
    chmod 644 "$TLS_DIR/ca.pem"
}

# The marker file tells `down --purge` that this directory is ours to delete.
# env.sh holds the encryption key: readable by its owner only.
stack_init() {
    mkdir -p "$STACK_DIR"
    : >"$STACK_DIR/.hookline-stack"
    key_init
    [ "$SECURE" = 0 ] || tls_init
    (umask 077 && render_env >"$STACK_DIR/env.sh.tmp") && mv "$STACK_DIR/env.sh.tmp" "$STACK_DIR/env.sh"
    eval "$(render_env)"
}

# Everything we start (the CLI, daemons) sees the stack's addresses, and the daemons
# listen on loopback only (the ingress defaults to all interfaces, as containers need).
# Local receivers (the demo's, the tests') are on loopback, which the forwarder refuses
# unless allowed; so are local sync runners.
eval "$(render_env)"
export HOOKLINE_INGRESS_BIND="${HOOKLINE_INGRESS_BIND:-127.0.0.1}"
export HOOKLINE_ADMIN_BIND="${HOOKLINE_ADMIN_BIND:-127.0.0.1}"
export HOOKLINE_FORWARDER_ALLOW_CIDRS="${HOOKLINE_FORWARDER_ALLOW_CIDRS-127.0.0.0/8,::1/128}"
export HOOKLINE_SYNCER_ALLOW_CIDRS="${HOOKLINE_SYNCER_ALLOW_CIDRS-127.0.0.0/8,::1/128}"
# Only ours: a caller's cluster settings must not reach a plain stack's daemons.
[ "$SECURE" = 1 ] || unset HOOKLINE_KAFKA_SECURITY_PROTOCOL HOOKLINE_KAFKA_SASL_MECHANISMS \
    HOOKLINE_KAFKA_SASL_USERNAME HOOKLINE_KAFKA_SASL_PASSWORD HOOKLINE_KAFKA_SSL_CA_LOCATION

# ---- PostgreSQL ------------------------------------------------------------------------
# initdb and postgres refuse to run as root: as root we run them as the `postgres` user.
if [ "$(id -u)" -eq 0 ]; then
    as_pg() { runuser -u postgres -- "$@"; }
else
    as_pg() { "$@"; }
fi

# Where the PostgreSQL data lives (decided once, recorded in $STACK_DIR/pg.path):
# $STACK_DIR/pg, unless the postgres user cannot reach it (a parent dir it cannot
# traverse) or the path is too long for a Unix socket; then under /var/tmp.
pg_base() {
    if [ -f "$STACK_DIR/pg.path" ]; then cat "$STACK_DIR/pg.path"; return; fi
    base=$STACK_DIR/pg
    mkdir -p "$base"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$base"
    if [ ${#base} -gt 80 ] || ! as_pg test -w "$base"; then
        rmdir "$base"
        base=/var/tmp/hookline-$(printf '%s' "$STACK_DIR" | cksum | cut -d' ' -f1)
        mkdir -p "$base"
        [ "$(id -u)" -ne 0 ] || chown postgres: "$base"
    fi
    echo "$base" >"$STACK_DIR/pg.path"
    echo "$base"
}

# The postmaster's pid if it runs (postgres keeps it in postmaster.pid itself; the
# command line check guards against a pid recycled after a reboot).
pg_pid() {
    [ -f "$STACK_DIR/pg.path" ] || return 1
    data=$(cat "$STACK_DIR/pg.path")/data
    pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null) || return 1
    alive "$pid" && tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$data" && echo "$pid"
}

# Over the server's Unix socket: the only way in without TLS on a secure stack.
psql_admin() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(pg_base)" -p "$PG_PORT" -U postgres -d postgres "$@"; }

# A secure stack's server: TLS with the stack's certificate, and TCP clients must use it
# and a password (the postgres superuser is reachable through the socket only).
pg_secure() {
    data=$1
    cp "$TLS_DIR/server.pem" "$data/server.crt"
    cp "$TLS_DIR/server.key" "$data/server.key"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$data/server.crt" "$data/server.key"
    chmod 600 "$data/server.key"
    cat >>"$data/postgresql.conf" <<EOF
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_min_protocol_version = 'TLSv1.2'
password_encryption = 'scram-sha-256'
EOF
    cat >"$data/pg_hba.conf" <<EOF
# hookline secure stack: superuser through the socket only; everything over TCP needs
# TLS and a password.
local   all  postgres                 trust
hostssl all  all       127.0.0.1/32   scram-sha-256
EOF
}

pg_up() {
    base=$(pg_base)
    if pid=$(pg_pid) && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
        say "postgres: reusing pid $pid on port $PG_PORT"
        return
    fi
    if pid=$(pg_pid); then # ours but not answering on this port: a stuck or other-offset server
        say "postgres: pid $pid does not answer on $PG_PORT, restarting it"
        terminate postgres "$pid" 30 || true
    fi
    port_free "$PG_PORT" PostgreSQL
    # No postmaster of ours runs: lock files left by a crash or a reboot are stale, and
    # postgres would refuse to start if their pid now belongs to another process.
    rm -f "$base/data/postmaster.pid" "$base"/.s.PGSQL.*
    if [ ! -f "$base/data/PG_VERSION" ]; then
        say "postgres: initdb in $base/data"
        rm -rf "$base/data"
        # Trust auth: this is a throwaway local dev/test server that listens on
        # 127.0.0.1 only. Never use this setup for anything shared.
        as_pg "$PG_BIN/initdb" -D "$base/data" -U postgres --auth=trust -E UTF8 \
            --locale=C.UTF-8 >"$base/initdb.log" 2>&1 || { log_tail "$base/initdb.log"; die "initdb failed"; }
        cat >>"$base/data/postgresql.conf" <<EOF
# hookline local stack
listen_addresses = '127.0.0.1'
unix_socket_directories = '$base'
synchronous_commit = off    # a dev/test server: speed over the last commits' durability
max_connections = 200
EOF
        [ "$SECURE" = 0 ] || pg_secure "$base/data"
    fi
    if [ "$SECURE" = 1 ] && ! grep -q '^ssl = on' "$base/data/postgresql.conf"; then
        die "postgres in $base/data was made without HOOKLINE_STACK_SECURE=1: run down --purge first"
    fi
    ln -sf "$base/postgres.log" "$STACK_DIR/postgres.log"
    # pg_ctl daemonizes (in its own session) and -w waits until it accepts connections.
    as_pg "$PG_BIN/pg_ctl" -D "$base/data" -l "$base/postgres.log" -o "-p $PG_PORT" -w -t 60 start \
        >/dev/null || { log_tail "$base/postgres.log"; die "PostgreSQL did not start"; }
    say "postgres: started pid $(pg_pid) on port $PG_PORT"
    if [ -z "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'hookline'")" ]; then
        psql_admin -c "CREATE ROLE hookline LOGIN"
    fi
    [ "$SECURE" = 0 ] || psql_admin -c "ALTER ROLE hookline PASSWORD '$(secret pg)'"
    if [ -z "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = 'hookline'")" ]; then
        psql_admin -c "CREATE DATABASE hookline OWNER hookline"
    fi
}

pg_down() {
    pid=$(pg_pid) || return 0
    say "postgres: stopping pid $pid"
    kill -INT "$pid" 2>/dev/null || true # fast shutdown: roll back open transactions, checkpoint, exit
    wait_gone "$pid" 30 || { kill -QUIT "$pid" 2>/dev/null; wait_gone "$pid" 5 || true; }
}

# ---- Kafka -----------------------------------------------------------------------------
# Node N (1..NODES) keeps its config and data in kafka/ (node 1) or kafkaN/, its pid in
# kafka.pid or kafkaN.pid, its output in kafka.log or kafkaN.log.
kafka_name() { if [ "$1" = 1 ]; then echo kafka; else echo "kafka$1"; fi; }
kafka_port() { echo $((KAFKA_PORT + 2 * ($1 - 1))); }
kafka_conf() { echo "$STACK_DIR/$(kafka_name "$1")/server.properties"; }
kafka_pid() { running_pid "$(kafka_name "$1")" "$(kafka_conf "$1")"; }

kafka_voters() {
    v=1 voters=
    while [ "$v" -le "$NODES" ]; do
        voters="$voters${voters:+,}$v@127.0.0.1:$(($(kafka_port "$v") + 1))"
        v=$((v + 1))
    done
    echo "$voters"
}

# Renders node $1's server.properties.
kafka_render() {
    dir=$STACK_DIR/$(kafka_name "$1")
    port=$(kafka_port "$1")
    listener=PLAINTEXT
    [ "$SECURE" = 0 ] || listener=SASL_SSL
    min_isr=1
    [ "$NODES" -lt 3 ] || min_isr=2
    sed -e "s|@NODE_ID@|$1|g" -e "s|@VOTERS@|$(kafka_voters)|g" -e "s|@LISTENER@|$listener|g" \
        -e "s|@KAFKA_PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$((port + 1))|g" -e "s|@LOG_DIR@|$dir/data|g" \
        -e "s|@RF@|$NODES|g" -e "s|@MIN_ISR@|$min_isr|g" \
        "$ROOT/deploy/kafka/server.properties.in" >"$dir/server.properties"
    if [ -n "${HOOKLINE_STACK_KAFKA_PROPERTIES:-}" ]; then
        printf '\n# HOOKLINE_STACK_KAFKA_PROPERTIES\n' >>"$dir/server.properties"
        for kv in $HOOKLINE_STACK_KAFKA_PROPERTIES; do
            case $kv in *=*) printf '%s\n' "$kv" >>"$dir/server.properties" ;; *) die "HOOKLINE_STACK_KAFKA_PROPERTIES: '$kv' is not key=value" ;; esac
        done
    fi
    [ "$SECURE" = 1 ] || return 0
    # Clients and brokers authenticate with SCRAM-SHA-512 over TLS; the controllers talk
    # on their own loopback listener.
    cat >>"$dir/server.properties" <<EOF

# HOOKLINE_STACK_SECURE=1: the only client listener is SASL_SSL, with SCRAM-SHA-512
# users (made at format time) and the same users for PLAIN.
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(secret kafka)";
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$(secret kafka)" user_admin="$(secret kafka)" user_hookline="$(secret kafka)";
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_DIR/server.p12
ssl.keystore.password=$(secret keystore)
ssl.key.password=$(secret keystore)
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
ssl.endpoint.identification.algorithm=https
EOF
}

# Starts node $1 if it is not running; kafka_wait then waits for it.
kafka_start() {
    name=$(kafka_name "$1")
    port=$(kafka_port "$1")
    if pid=$(kafka_pid "$1"); then
        say "$name: reusing pid $pid on port $port"
        return
    fi
    rm -f "$STACK_DIR/$name.pid"
    [ -f "$KAFKA_CACHE/.complete" ] || die "Kafka jars missing in $KAFKA_CACHE: run 'make deps'"
    port_free "$port" Kafka
    port_free $((port + 1)) "Kafka controller"
    dir=$STACK_DIR/$name
    mkdir -p "$dir/data"
    kafka_render "$1"
    classpath=$KAFKA_CACHE/'*' # a classpath wildcard that Java expands, not the shell
    if [ ! -f "$dir/data/meta.properties" ]; then
        # One cluster id for every node of the stack.
        [ -s "$STACK_DIR/kafka/cluster.id" ] || { mkdir -p "$STACK_DIR/kafka" &&
            "$JAVA" -cp "$classpath" kafka.tools.StorageTool random-uuid >"$STACK_DIR/kafka/cluster.id"; }
        # A secure stack's users exist from the start (SCRAM credentials in the metadata log).
        set --
        [ "$SECURE" = 0 ] || set -- \
            --add-scram "SCRAM-SHA-512=[name=\"admin\",password=\"$(secret kafka)\"]" \
            --add-scram "SCRAM-SHA-512=[name=\"hookline\",password=\"$(secret kafka)\"]"
        "$JAVA" -cp "$classpath" kafka.tools.StorageTool format -t "$(cat "$STACK_DIR/kafka/cluster.id")" \
            -c "$dir/server.properties" --ignore-formatted "$@" >"$dir/format.log" 2>&1 ||
            { log_tail "$dir/format.log"; die "$name: storage format failed"; }
    fi
    [ ! -f "$STACK_DIR/$name.log" ] || mv "$STACK_DIR/$name.log" "$STACK_DIR/$name.log.1"
    # setsid: own session, so a Ctrl-C in the caller's terminal never reaches it.
    # shellcheck disable=SC2086  # the JVM options are a list
    setsid "$JAVA" ${HOOKLINE_STACK_KAFKA_JVM_OPTS:--Xms256m -Xmx512m} -XX:+ExitOnOutOfMemoryError \
        -Djava.awt.headless=true -Dlog4j2.configurationFile="$ROOT/deploy/kafka/log4j2.properties" \
        -cp "$classpath" kafka.Kafka "$dir/server.properties" >"$STACK_DIR/$name.log" 2>&1 </dev/null &
    echo $! >"$STACK_DIR/$name.pid"
    say "$name: started pid $! on port $port"
}

# Ready = the broker logged that it started and its port answers.
kafka_wait() {
    name=$(kafka_name "$1")
    i=0
    until grep -q 'Kafka Server started' "$STACK_DIR/$name.log" 2>/dev/null && port_open "$(kafka_port "$1")"; do
        if ! kafka_pid "$1" >/dev/null; then
            log_tail "$STACK_DIR/$name.log"
            die "$name exited during startup"
        fi
        [ "$i" -lt 900 ] || { log_tail "$STACK_DIR/$name.log"; die "$name not ready after 90 s"; }
        sleep 0.1
        i=$((i + 1))
    done
}

kafka_stop() {
    name=$(kafka_name "$1")
    pid=$(kafka_pid "$1") || { rm -f "$STACK_DIR/$name.pid"; return 0; }
    say "$name: stopping pid $pid"
    terminate "$name" "$pid" 30 || true
    rm -f "$STACK_DIR/$name.pid"
}

kafka_kill() {
    name=$(kafka_name "$1")
    pid=$(kafka_pid "$1") || { rm -f "$STACK_DIR/$name.pid"; say "$name: not running"; return 0; }
    say "$name: SIGKILL pid $pid"
    kill -KILL "$pid"
    wait_gone "$pid" 10 || die "$name (pid $pid) survived SIGKILL"
    rm -f "$STACK_DIR/$name.pid"
}

# Every node: all are started first (a KRaft quorum needs a majority to elect a leader).
kafka_up() {
    n=1
    while [ "$n" -le "$NODES" ]; do kafka_start "$n"; n=$((n + 1)); done
}
kafka_wait_all() {
    n=1
    while [ "$n" -le "$NODES" ]; do kafka_wait "$n"; n=$((n + 1)); done
}
kafka_down() {
    n=$NODES
    while [ "$n" -ge 1 ]; do kafka_stop "$n"; n=$((n - 1)); done
}

# ---- infra: Kafka + PostgreSQL + schema + topics ---------------------------------------
infra() {
    stack_init
    kafka_up # the JVMs boot while PostgreSQL starts
    pg_up
    kafka_wait_all
    if [ ! -x "$BIN_DIR/hookline" ]; then
        say "WARNING: $BIN_DIR/hookline not built: skipped migrate and topics ensure (run make)"
        return
    fi
    "$BIN_DIR/hookline" migrate
    # The broker can accept connections before its metadata is ready: retry.
    i=0
    until "$BIN_DIR/hookline" topics ensure --replication "$NODES" >"$STACK_DIR/topics.log" 2>&1; do
        [ "$i" -lt 30 ] || { log_tail "$STACK_DIR/topics.log"; die "hookline topics ensure kept failing for 60 s"; }
        sleep 2
        i=$((i + 1))
    done
    cat "$STACK_DIR/topics.log" >&2
    say "infra ready: kafka $(kafka_brokers), postgres 127.0.0.1:$PG_PORT"
}

# ---- daemons -------------------------------------------------------------------------
daemon_pid() { running_pid "$1" "hookline-$1"; }

# Starts daemon $1 in the background unless it runs; daemon_wait waits for /readyz.
daemon_spawn() {
    name=$1
    port=$(admin_port "$name")
    if pid=$(daemon_pid "$name"); then
        say "$name: already running, pid $pid"
        return
    fi
    rm -f "$STACK_DIR/$name.pid"
    bin=$BIN_DIR/hookline-$name
    [ -x "$bin" ] || die "$bin not found (run make, or set HOOKLINE_BIN_DIR)"
    port_free "$port" "$name admin"
    [ "$name" != ingress ] || port_free "$INGRESS_PORT" "ingress"
    [ "$name" != api ] || port_free "$API_PORT" "api"
    # Logs are appended across restarts so crash tests keep every run's output.
    printf '==== stack: %s started %s ====\n' "$name" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$STACK_DIR/$name.log"
    (cd "$STACK_DIR" && export HOOKLINE_ADMIN_PORT="$port" && exec setsid "$bin") \
        >>"$STACK_DIR/$name.log" 2>&1 </dev/null &
    echo $! >"$STACK_DIR/$name.pid"
}

daemon_wait() {
    name=$1
    url=http://127.0.0.1:$(admin_port "$name")/readyz
    i=0
    until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
        if ! daemon_pid "$name" >/dev/null; then
            log_tail "$STACK_DIR/$name.log"
            die "$name exited during startup"
        fi
        [ "$i" -lt 300 ] || { log_tail "$STACK_DIR/$name.log"; die "$name not ready after 60 s ($url)"; }
        sleep 0.2
        i=$((i + 1))
    done
    say "$name: ready, pid $(daemon_pid "$name"), admin port $(admin_port "$name")"
}

daemon_stop() {
    admin_port "$1" >/dev/null
    pid=$(daemon_pid "$1") || { rm -f "$STACK_DIR/$1.pid"; say "$1: not running"; return 0; }
    say "$1: SIGTERM pid $pid"
    rc=0
    terminate "$1" "$pid" "$2" || rc=1
    rm -f "$STACK_DIR/$1.pid"
    return $rc
}

daemon_kill() {
    admin_port "$1" >/dev/null
    pid=$(daemon_pid "$1") || { rm -f "$STACK_DIR/$1.pid"; say "$1: not running"; return 0; }
    say "$1: SIGKILL pid $pid"
    kill -KILL "$pid"
    wait_gone "$pid" 10 || die "$1 (pid $pid) survived SIGKILL"
    rm -f "$STACK_DIR/$1.pid"
}

# Every daemon gets SIGTERM at once (each drains on its own), then 20 s to exit.
# Sets KILLED when one had to be SIGKILLed (a drain that hangs is a bug: down fails).
KILLED=
daemons_down() {
    pids=
    for name in $DAEMONS; do
        if pid=$(daemon_pid "$name"); then
            say "$name: SIGTERM pid $pid"
            kill -TERM "$pid" 2>/dev/null || true
            pids="$pids $name:$pid"
        fi
    done
    for np in $pids; do
        wait_gone "${np#*:}" 20 || true # the 20 s run from the first SIGTERM, not per daemon
        if alive "${np#*:}"; then
            say "${np%%:*} (pid ${np#*:}) still running 20 s after SIGTERM: SIGKILL"
            kill -KILL "${np#*:}" 2>/dev/null || true
            wait_gone "${np#*:}" 5 || true
            KILLED="$KILLED ${np%%:*}"
        fi
    done
    for name in $DAEMONS; do rm -f "$STACK_DIR/$name.pid"; done
}

down() {
    if [ ! -d "$STACK_DIR" ]; then
        say "nothing in $STACK_DIR"
    else
        daemons_down
        kafka_down
        pg_down
    fi
    if [ "${1:-}" = --purge ] && [ -d "$STACK_DIR" ]; then
        [ -f "$STACK_DIR/.hookline-stack" ] || die "$STACK_DIR is not a stack dir (no .hookline-stack): not deleting it"
        base=$(cat "$STACK_DIR/pg.path" 2>/dev/null || true)
        case $base in /var/tmp/hookline-*) rm -rf "$base" ;; esac
        rm -rf "$STACK_DIR"
        say "purged $STACK_DIR"
    fi
    [ -z "$KILLED" ] || die "did not drain within 20 s of SIGTERM:$KILLED"
}

status() {
    show() { printf '%-10s %-8s %-8s %s\n' "$@"; }
    show NAME STATE PID PORTS
    node=1
    while [ "$node" -le "$NODES" ]; do
        port=$(kafka_port "$node")
        if pid=$(kafka_pid "$node"); then
            show "$(kafka_name "$node")" running "$pid" "$port (controller $((port + 1)))"
        else show "$(kafka_name "$node")" stopped - "$port"; fi
        node=$((node + 1))
    done
    if pid=$(pg_pid); then show postgres running "$pid" "$PG_PORT"; else show postgres stopped - "$PG_PORT"; fi
    for name in $DAEMONS; do
        ports="admin $(admin_port "$name")"
        [ "$name" != ingress ] || ports="$INGRESS_PORT, $ports"
        [ "$name" != api ] || ports="$API_PORT, $ports"
        if pid=$(daemon_pid "$name"); then show "$name" running "$pid" "$ports"
        else show "$name" stopped - "$ports"; fi
    done
}

logs() {
    if [ $# -gt 0 ]; then
        case $1 in kafka | kafka[23] | postgres) ;; *) admin_port "$1" >/dev/null ;; esac
        files=$STACK_DIR/$1.log
    else
        files=
        for name in $DAEMONS kafka kafka2 kafka3 postgres; do
            [ ! -e "$STACK_DIR/$name.log" ] || files="$files $STACK_DIR/$name.log"
        done
        [ -n "$files" ] || die "no logs in $STACK_DIR"
    fi
    # shellcheck disable=SC2086  # one argument per file; stack paths have no spaces
    exec tail -n 20 -F $files
}

need_name() { [ $# -ge 1 ] || die "usage: stack.sh $CMD ingress|router|forwarder|syncer|api"; }

# stack.sh broker start|stop|kill N: one Kafka node of a running stack.
broker() {
    [ $# -eq 2 ] || die "usage: stack.sh broker start|stop|kill N"
    case $2 in [1-9]) [ "$2" -le "$NODES" ] || die "no Kafka node $2 (HOOKLINE_STACK_KAFKA_NODES=$NODES)" ;;
    *) die "usage: stack.sh broker start|stop|kill N" ;; esac
    case $1 in
    start) stack_init && kafka_start "$2" && kafka_wait "$2" && say "$(kafka_name "$2"): ready" ;;
    stop) kafka_stop "$2" ;;
    kill) kafka_kill "$2" ;;
    *) die "usage: stack.sh broker start|stop|kill N" ;;
    esac
}

CMD=${1:-}
[ $# -eq 0 ] || shift
case $CMD in
up)
    infra
    for name in $DAEMONS; do daemon_spawn "$name"; done
    for name in $DAEMONS; do daemon_wait "$name"; done
    say "up: ingress on $HOOKLINE_PUBLIC_URL, API and console on http://127.0.0.1:$API_PORT/ (env: . $STACK_DIR/env.sh)"
    ;;
infra) infra ;;
down) down "$@" ;;
start)
    need_name "$@"
    stack_init
    daemon_spawn "$1"
    daemon_wait "$1"
    ;;
stop) need_name "$@" && daemon_stop "$1" 30 ;;
kill) need_name "$@" && daemon_kill "$1" ;;
broker) broker "$@" ;;
status) status ;;
env) render_env ;;
logs) logs "$@" ;;
*)
    sed -n '2,32s/^# \{0,1\}//p' "$0" >&2
    exit 2
    ;;
esac
