"""Runs the example shop (`python -m shop.app --fail-fast DATA`, from the shop's folder) with
sentry-sdk reporting to the DSN in SENTRY_DSN, as a deployment in ENVIRONMENT at RELEASE.

    SENTRY_DSN=http://key@127.0.0.1:PORT/1 python shop_with_sentry.py staging shop@1.4.2 data/guest-orders.json

The shop crashes on an order nothing catches; the SDK's excepthook integration reports it and its
atexit integration flushes it before the interpreter exits.
"""

import os
import runpy
import sys

import sentry_sdk

environment, release, data = sys.argv[1:4]
sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], environment=environment, release=release)

sys.path.insert(0, os.getcwd())
sys.argv = ["shop.app", "--fail-fast", data]
runpy.run_module("shop.app", run_name="__main__", alter_sys=True)
