#!/usr/bin/env bash
# Makes the local PostgreSQL check passwords for members of the group role `laneway_pw`, so tests can
# see a wrong password refused (everything else keeps the box's trust auth). Idempotent; run as root.
set -euo pipefail

version=$(ls /etc/postgresql | sort -V | tail -n 1)
hba=/etc/postgresql/$version/main/pg_hba.conf
rule='host all +laneway_pw 127.0.0.1/32 scram-sha-256'

if ! grep -qxF "$rule" "$hba"; then
  # pg_hba.conf is read top-down, first match wins: the rule must come before the first trust line.
  line=$(grep -nE '^[[:space:]]*host[[:space:]].*[[:space:]]trust([[:space:]]|$)' "$hba" | head -n 1 | cut -d: -f1 || true)
  if [ -n "$line" ]; then
    sed -i "${line}i ${rule}" "$hba"
  else
    printf '%s\n' "$rule" >>"$hba"
  fi
fi

psql -h 127.0.0.1 -U postgres -d postgres -v ON_ERROR_STOP=1 -q <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'laneway_pw') THEN
    CREATE ROLE laneway_pw NOLOGIN;
  END IF;
END
$$;
SQL

pg_ctlcluster --skip-systemctl-redirect "$version" main reload
