#!/usr/bin/env bash
# Installs the database servers the probe tests start on loopback (MariaDB with Galera, PostgreSQL 15, rsync for
# Galera's state transfer, and Patroni with its Raft store for the PG switchover test). Idempotent and quiet: it does nothing when everything is already there.
set -euo pipefail

need=()
command -v mariadbd >/dev/null 2>&1 || need+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || need+=(mariadb-client)
[ -e /usr/lib/galera/libgalera_smm.so ] || need+=(galera-4)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
[ -x /usr/lib/postgresql/15/bin/pg_basebackup ] || need+=(postgresql-client-15)
command -v patroni >/dev/null 2>&1 || need+=(patroni)
/usr/bin/python3 -c 'import pysyncobj' >/dev/null 2>&1 || need+=(python3-pysyncobj)
/usr/bin/python3 -c 'import psycopg2' >/dev/null 2>&1 || need+=(python3-psycopg2)

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    as_root=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"${as_root[@]}" apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
# policy-rc.d keeps the package scripts from starting the system-wide servers: the tests start their own.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
    "${as_root[@]}" chmod +x "$policy"
    created_policy=1
fi
status=0
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >>"$log" 2>&1 || status=$?
if [ "$created_policy" -eq 1 ]; then
    "${as_root[@]}" rm -f "$policy"
fi
if [ "$status" -ne 0 ]; then
    cat "$log" >&2
    echo "install-db: apt-get install ${need[*]} failed (exit $status)" >&2
    exit "$status"
fi
