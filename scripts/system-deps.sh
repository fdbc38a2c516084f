#!/usr/bin/env bash
# Install the Debian packages Carte citoyenne needs, when they are missing.
# As root this runs apt-get; otherwise it prints one line saying what to install.
set -euo pipefail

need=()
pg_bin=""
for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then pg_bin=$d; break; fi
done
[ -n "$pg_bin" ] || need+=(postgresql-15)
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need+=(postgresql-15-postgis-3)
if [ "${CARTE_WITH_BROWSER:-1}" = 1 ]; then
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi

# make bench: the reference tools measured beside ours (wrk for HTTP, ogr2ogr for loads).
if [ "${CARTE_WITH_BENCH_TOOLS:-0}" = 1 ]; then
    command -v wrk >/dev/null 2>&1 || need+=(wrk)
    command -v ogr2ogr >/dev/null 2>&1 || need+=(gdal-bin)
fi

[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: installing ${need[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
    echo "system-deps: missing Debian packages; run: sudo apt-get install ${need[*]}" >&2
    exit 1
fi
