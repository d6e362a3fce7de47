#!/usr/bin/env bash
# Start a throw-away trytond on 127.0.0.1 from a copy of the prepared database (for humans and
# the lead's end-to-end wiring; the tests use src/connectors/tryton/test-server.ts instead).
#
# Usage: scripts/tryton/start.sh [port]   (default 8000; runs in the foreground, Ctrl-C stops)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT="${1:-8000}"
PREPARED="$("$HERE/prepare-db.sh")"
STATE_DIR="${CROSSDOCK_TRYTON_HOME:-${TMPDIR:-/tmp}/crossdock-tryton}"
RUN="$STATE_DIR/run-$PORT"
rm -rf "$RUN"
mkdir -p "$RUN"
cp "$PREPARED/crossdock.sqlite" "$RUN/crossdock.sqlite"
cp "$PREPARED/manifest.json" "$RUN/manifest.json"
cat > "$RUN/trytond.conf" <<CONF
[database]
uri = sqlite://
path = $RUN
[web]
listen = 127.0.0.1:$PORT
[session]
timeout = 3600
CONF
echo "crossdock: Tryton at http://127.0.0.1:$PORT/crossdock/ (login crossdock / \$CROSSDOCK_TRYTON_PASSWORD), manifest $RUN/manifest.json" >&2
exec trytond -c "$RUN/trytond.conf"
