"""Prints a receipt for every order of a JSON file.

    python3 -m shop.app data/orders.json              # logs failed orders and goes on
    python3 -m shop.app --fail-fast data/orders.json  # stops at the first failure
"""

import json
import logging
import sys

from shop.orders import receipt

CUSTOMERS = {
    "c-1": {"name": "Ada"},
    "c-2": {"name": "Grace"},
}

log = logging.getLogger("shop")


def main(path, fail_fast=False):
    with open(path, encoding="utf-8") as f:
        orders = json.load(f)
    failed = 0
    for order in orders:
        if fail_fast:
            print(receipt(order, CUSTOMERS))
            continue
        try:
            print(receipt(order, CUSTOMERS))
        except Exception:
            failed += 1
            log.exception("order %s failed", order.get("id"))
    return 1 if failed else 0


if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s %(levelname)s [%(name)s] %(message)s", level=logging.INFO)
    args = sys.argv[1:]
    fail_fast = "--fail-fast" in args
    paths = [a for a in args if a != "--fail-fast"]
    sys.exit(main(paths[0], fail_fast))
