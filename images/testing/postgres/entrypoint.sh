#!/usr/bin/env bash
# Entrypoint of the pgbackup-test/postgres image (see Dockerfile for the
# environment it reads). With the default command ("postgres", or options
# starting with "-"), initialises $PGDATA on the first start and then execs the
# server; any other command (psql, pg_dump, bash, ...) is exec'ed as it is.
set -Eeuo pipefail

log() { echo "entrypoint: $*" >&2; }
die() { echo "entrypoint: error: $*" >&2; exit 1; }

if [ "${1:-}" = "" ] || [ "${1:0:1}" = "-" ]; then
	set -- postgres "$@"
fi
if [ "$1" != "postgres" ]; then
	exec "$@"
fi

if [ "$(id -u)" = "0" ]; then
	die "refusing to run the server as root; run as the postgres user (uid 999)"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
socket_dir=/var/run/postgresql

if [ -s "$PGDATA/PG_VERSION" ]; then
	log "database directory $PGDATA already initialised; skipping initialisation"
else
	auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
	case "$auth" in
	scram-sha-256) [ -n "${POSTGRES_PASSWORD:-}" ] || die "POSTGRES_PASSWORD must be set to a non-empty value (or POSTGRES_HOST_AUTH_METHOD=trust for a server that listens on loopback only)" ;;
	trust) log "POSTGRES_HOST_AUTH_METHOD=trust: every connection is accepted without a password; listen on 127.0.0.1 only (-c listen_addresses=127.0.0.1)" ;;
	*) die "POSTGRES_HOST_AUTH_METHOD must be scram-sha-256 or trust, not $auth" ;;
	esac
	mkdir -p "$PGDATA" || die "cannot create $PGDATA"
	[ -w "$PGDATA" ] || die "$PGDATA is not writable by uid $(id -u); chown it to 999:999"
	chmod 0700 "$PGDATA" 2>/dev/null || true

	# A failed initialisation must not leave a half-made cluster that the next
	# start would take as ready: stop the temporary server and empty $PGDATA.
	cleanup_failed_init() {
		log "initialisation failed; removing the partial cluster in $PGDATA"
		pg_ctl -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
		find "$PGDATA" -mindepth 1 -delete 2>/dev/null || true
	}
	trap cleanup_failed_init ERR

	pwopt=()
	if [ "$auth" != trust ]; then
		# The password goes to initdb through a private file, never a
		# command line.
		pwfile="$(mktemp)"
		chmod 0600 "$pwfile"
		printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
		pwopt=(--pwfile="$pwfile")
	fi
	# C locale: always present in the slim image and sorts the same everywhere.
	initdb --username="$POSTGRES_USER" "${pwopt[@]}" \
		--auth-local=trust --auth-host="$auth" \
		--encoding=UTF8 --locale=C >/dev/null
	[ -z "${pwfile:-}" ] || rm -f "$pwfile"

	cat >>"$PGDATA/pg_hba.conf" <<-EOF

		# pgbackup-test: $auth logins from any address.
		host    all             all             0.0.0.0/0               $auth
		host    all             all             ::/0                    $auth
	EOF

	cat >>"$PGDATA/postgresql.conf" <<-EOF

		# ---- pgbackup-test fixture settings ----
		listen_addresses = '*'
		port = 5432
		unix_socket_directories = '$socket_dir'
		max_connections = 100
		shared_buffers = 128MB
		password_encryption = 'scram-sha-256'
		# Test fixture only: no durability across host crashes, in exchange for
		# speed. Never use these settings for data you want to keep.
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		# Log to stderr (docker logs), no log files.
		logging_collector = off
		log_destination = 'stderr'
	EOF

	# Temporary server on the unix socket only: nothing can connect over TCP
	# (and so nothing sees the server as ready) until initialisation is done.
	pg_ctl -D "$PGDATA" -w -t 60 \
		-o "-c listen_addresses='' -c unix_socket_directories='$socket_dir'" start >&2

	psql_init=(psql -X -q -v ON_ERROR_STOP=1 -h "$socket_dir" -U "$POSTGRES_USER")

	exists="$("${psql_init[@]}" -d postgres -At -v db="$POSTGRES_DB" \
		<<<"SELECT 1 FROM pg_database WHERE datname = :'db';")"
	if [ "$exists" != "1" ]; then
		log "creating database \"$POSTGRES_DB\""
		"${psql_init[@]}" -d postgres -v db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
	fi

	if [ -n "${POSTGRES_INIT_SQL:-}" ]; then
		log "running POSTGRES_INIT_SQL in \"$POSTGRES_DB\""
		printf '%s\n' "$POSTGRES_INIT_SQL" | "${psql_init[@]}" -d "$POSTGRES_DB"
	fi
	shopt -s nullglob
	for f in /docker-init.d/*.sql; do
		log "running $f in \"$POSTGRES_DB\""
		"${psql_init[@]}" -d "$POSTGRES_DB" -f "$f"
	done
	shopt -u nullglob

	pg_ctl -D "$PGDATA" -m fast -w -t 60 stop >&2
	trap - ERR
	log "initialisation complete"
fi

log "starting $(postgres --version)"
exec "$@"
