# Sourced by bin/backup-db and bin/restore-db: the database to act on, as libpq understands it.

fail() {
  echo "$(basename "$0"): $*" >&2
  exit 2
}

# Print DATABASE_URL as a libpq connection URI (pg_dump, pg_restore and psql take it as --dbname);
# django-environ's other names for PostgreSQL become postgresql://.
database_uri() {
  local url="${DATABASE_URL:-}"
  [ -n "$url" ] || fail "DATABASE_URL is not set: set it to the database, e.g. DATABASE_URL=postgres://user:password@host:5432/timeline"
  case "$url" in
    postgres://* | postgresql://*) echo "$url" ;;
    pgsql://* | psql://* | postgis://*) echo "postgresql://${url#*://}" ;;
    *) fail "DATABASE_URL is not a PostgreSQL database (${url%%:*}://…): only PostgreSQL is backed up and restored this way" ;;
  esac
}

need() {
  command -v "$1" >/dev/null || fail "$1 is not installed: install PostgreSQL's client programs (Debian: apt-get install postgresql-client)"
}
