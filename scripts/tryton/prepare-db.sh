#!/usr/bin/env bash
# Build the prepared Tryton test database once (idempotent), then print its directory.
#
# Why once: creating the database (trytond-admin, ~18 s) and seeding it (proteus, a few s) is
# far slower than copying the resulting SQLite file (~6 ms), so every test suite starts from a
# copy. The prepared file is keyed by a hash of the seeding script, so editing the seed rebuilds.
# Output (stdout, one line): the directory holding crossdock.sqlite and manifest.json.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$HERE/install.sh"

STATE_DIR="${CROSSDOCK_TRYTON_HOME:-${TMPDIR:-/tmp}/crossdock-tryton}"
DB=crossdock
HASH=$(cat "$HERE/setup_db.py" "$HERE/prepare-db.sh" | sha256sum | cut -c1-12)
PREPARED="$STATE_DIR/prepared-$HASH"
INTEGRATION_PASSWORD="${CROSSDOCK_TRYTON_PASSWORD:-Xd-int3gr8-Tryton!}"
ADMIN_PASSWORD="${CROSSDOCK_TRYTON_ADMIN_PASSWORD:-Xd-adm1n-Tryton!}"

if [ -f "$PREPARED/ready" ]; then echo "$PREPARED"; exit 0; fi

mkdir -p "$STATE_DIR"
exec 9>"$STATE_DIR/prepare.lock"
flock 9
if [ -f "$PREPARED/ready" ]; then echo "$PREPARED"; exit 0; fi

start=$(date +%s.%N)
WORK="$STATE_DIR/building-$HASH"
rm -rf "$WORK"
mkdir -p "$WORK"
cat > "$WORK/trytond.conf" <<CONF
[database]
uri = sqlite://
path = $WORK
[session]
timeout = 3600
CONF
printf '%s\n' "$ADMIN_PASSWORD" > "$WORK/admin-password"
: > "$WORK/$DB.sqlite"
echo "crossdock: creating Tryton database (trytond-admin)..." >&2
TRYTONPASSFILE="$WORK/admin-password" trytond-admin -c "$WORK/trytond.conf" -d "$DB" \
  --email admin@example.com \
  -u sale sale_price_list sale_credit_limit stock sale_opportunity account_invoice account_invoice_stock \
  --activate-dependencies >"$WORK/trytond-admin.log" 2>&1 \
  || { tail -40 "$WORK/trytond-admin.log" >&2; exit 1; }
echo "crossdock: seeding company, chart, customers, products, stock (proteus)..." >&2
/usr/bin/python3 "$HERE/setup_db.py" "$WORK/trytond.conf" "$DB" "$WORK/manifest.json" \
  "$INTEGRATION_PASSWORD" >"$WORK/setup.log" 2>&1 \
  || { tail -40 "$WORK/setup.log" >&2; exit 1; }
rm -f "$WORK/admin-password"
printf '%s\n' "$(/usr/bin/python3 -c "import time; print(round(time.time() - $start, 1))")" > "$WORK/build-seconds"
rm -rf "$PREPARED"
mv "$WORK" "$PREPARED"
touch "$PREPARED/ready"
echo "crossdock: prepared Tryton database in $(cat "$PREPARED/build-seconds") s" >&2
echo "$PREPARED"
