#!/usr/bin/env bash
# Produces the example applications' crash files by running the applications for real, the way
# they run in production: mounted at /srv/<name> (so stack traces carry deployed paths, not this
# checkout's), with bubblewrap. Re-run it after changing an example; commit what it writes.
# Needs python3, node, cargo and go; builds happen offline inside the sandbox's own /tmp.
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

# cart-node: a checkout script that stops at the first cart it cannot price; Node prints the
# uncaught error to stderr.
crashes="$here/cart-node/.crashloom/crashes"
rm -rf "$crashes" && mkdir -p "$crashes"
deployed cart-node node src/cli.js data/orders.json >/dev/null 2>"$crashes/checkout.txt" || true
echo "wrote $(ls "$crashes" | wc -l) crash files for cart-node"

# inventory-rust: a debug build, built inside the mount so the binary's debug info names
# /srv/inventory-rust/src/..., into a target dir on the sandbox's /tmp (the mount is read-only).
# It runs in its data folder, as the service does; a backtrace shortens paths under the working
# directory to ./..., so from there it prints whole /srv/inventory-rust/src/... paths.
crashes="$here/inventory-rust/.crashloom/crashes"
rm -rf "$crashes" && mkdir -p "$crashes"
status=0
deployed inventory-rust env CARGO_TARGET_DIR=/tmp/target RUST_BACKTRACE=1 bash -c '
  cargo build --quiet --offline --locked 2>/tmp/build.log || { cat /tmp/build.log >&3; exit 99; }
  cd data && exec /tmp/target/debug/inventory stock.csv picks.csv
' >/dev/null 2>"$crashes/picking-panic.txt" 3>&2 || status=$?
[ "$status" -ne 99 ] || { echo "inventory-rust does not build" >&2; exit 1; }
echo "wrote $(ls "$crashes" | wc -l) crash files for inventory-rust"

# ledger-go: built inside the mount (so the trace names /srv/ledger-go/...) with a throwaway Go
# cache and module path, offline, then run the way it is deployed: the binary, not go run.
crashes="$here/ledger-go/.crashloom/crashes"
rm -rf "$crashes" && mkdir -p "$crashes"
status=0
deployed ledger-go env GOCACHE=/tmp/go-cache GOPATH=/tmp/go GOFLAGS=-mod=mod GOPROXY=off GO111MODULE=on bash -c '
  go build -o /tmp/ledger . 2>/tmp/build.log || { cat /tmp/build.log >&3; exit 99; }
  exec /tmp/ledger data/transfers.json
' >/dev/null 2>"$crashes/posting-panic.txt" 3>&2 || status=$?
[ "$status" -ne 99 ] || { echo "ledger-go does not build" >&2; exit 1; }
echo "wrote $(ls "$crashes" | wc -l) crash files for ledger-go"
