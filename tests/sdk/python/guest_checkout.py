"""Runs the example shop's guest checkout (`python -m shop.app --fail-fast data/guest-orders.json`,
from the shop's folder) with sentry-sdk reporting to the DSN in SENTRY_DSN.

The checkout crashes with a TypeError that nothing catches; the SDK's excepthook integration
reports it and its atexit integration flushes it before the interpreter exits. With
WITHOUT_BROTLI=1 the `brotli` module cannot be imported, as on a machine without it, so the SDK
compresses with gzip instead of brotli.
"""

import os
import runpy
import sys

if os.environ.get("WITHOUT_BROTLI") == "1":
    # `import brotli` now raises ImportError, exactly as when the package is not installed.
    sys.modules["brotli"] = None

import sentry_sdk  # noqa: E402

sentry_sdk.init(
    dsn=os.environ["SENTRY_DSN"],
    release="shop@1.0.0",
    environment="production",
    include_local_variables=True,
)

sys.path.insert(0, os.getcwd())
sys.argv = ["shop.app", "--fail-fast", "data/guest-orders.json"]
runpy.run_module("shop.app", run_name="__main__", alter_sys=True)
