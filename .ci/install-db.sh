#!/usr/bin/env bash
# Installs the database servers the probe tests start on loopback (MariaDB with Galera, PostgreSQL 15, rsync for
# Galera's state transfer, and Patroni with its Raft store for the PG switchover test) on Debian, as root or with
# sudo. Idempotent and quiet: it does nothing when everything is already there.
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

# Debian 12 carries PostgreSQL 15; later releases carry a newer major only. There, take 15 from the PostgreSQL
# project's own archive, set up by the script Debian's postgresql-common ships for exactly this (key included).
has_candidate() { apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]'; }
if [[ " ${need[*]} " == *" postgresql-15 "* ]] && ! has_candidate postgresql-15; then
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends postgresql-common ca-certificates >>"$log" 2>&1 \
        || { cat "$log" >&2; echo "install-db: cannot install postgresql-common" >&2; exit 1; }
    "${as_root[@]}" /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y >>"$log" 2>&1 \
        || { cat "$log" >&2; echo "install-db: cannot add apt.postgresql.org for postgresql-15" >&2; exit 1; }
    has_candidate postgresql-15 || { echo "install-db: no postgresql-15 package for this system" >&2; exit 1; }
fi
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
