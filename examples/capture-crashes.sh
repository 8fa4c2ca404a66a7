#!/usr/bin/env bash
# Produces the example applications' crash files by running the applications for real, the way
# they run in production: mounted at /srv/<name> (so stack traces carry deployed paths, not this
# checkout's), with bubblewrap. Re-run it after changing an example; commit what it writes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v bwrap >/dev/null || { echo "needs bubblewrap: apt-get install -y bubblewrap" >&2; exit 1; }

deployed() { # deployed NAME COMMAND... : runs COMMAND in examples/NAME mounted at /srv/NAME
  local name=$1; shift
  bwrap --ro-bind / / --dev /dev --proc /proc --tmpfs /tmp --tmpfs /srv --ro-bind "$here/$name" "/srv/$name" \
    --setenv PYTHONDONTWRITEBYTECODE 1 --chdir "/srv/$name" "$@"
}

# shop-python: a service that logs failed orders and goes on (two runs, two days of logs), and a
# batch job that stops at the first failure.
crashes="$here/shop-python/.crashloom/crashes"
rm -rf "$crashes" && mkdir -p "$crashes"
for run in 1 2; do
  deployed shop-python python3 -m shop.app data/orders.json >/dev/null 2>>"$crashes/orders-service.log" || true
done
deployed shop-python python3 -m shop.app --fail-fast data/guest-orders.json >/dev/null 2>"$crashes/guest-checkout.txt" || true
echo "wrote $(ls "$crashes" | wc -l) crash files for shop-python"
