#!/usr/bin/env bash
# Install Tryton 6.0 from Debian 12's packages if it is missing (idempotent).
#
# Why Debian's packages: they are the only Tryton available offline here, they pin a coherent
# server + modules set, and Debian's /usr/bin/python3 runs them. --no-install-recommends keeps
# LibreOffice, exim and a second PostgreSQL out. A lock serialises parallel test workers.
set -euo pipefail

PACKAGES=(tryton-server tryton-proteus tryton-modules-sale tryton-modules-sale-price-list
  tryton-modules-sale-credit-limit tryton-modules-stock tryton-modules-sale-opportunity
  tryton-modules-carrier tryton-modules-account-invoice tryton-modules-account-invoice-stock
  tryton-modules-sale-stock-quantity)

installed() {
  command -v trytond >/dev/null 2>&1 && command -v trytond-admin >/dev/null 2>&1 \
    && /usr/bin/python3 -c 'import proteus, trytond.modules.sale_credit_limit, trytond.modules.sale_price_list' 2>/dev/null
}

if installed; then exit 0; fi

STATE_DIR="${CROSSDOCK_TRYTON_HOME:-${TMPDIR:-/tmp}/crossdock-tryton}"
mkdir -p "$STATE_DIR"
exec 9>"$STATE_DIR/install.lock"
flock 9
if installed; then exit 0; fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
echo "crossdock: installing Tryton 6.0 from Debian packages..." >&2
start=$(date +%s)
$SUDO apt-get update -q >&2 || true
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >&2
echo "crossdock: Tryton installed in $(( $(date +%s) - start )) s" >&2
installed
