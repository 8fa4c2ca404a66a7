// Starts @sentry/node before the application, the way Sentry documents it for CommonJS apps:
//
//     node --require ./instrument.js src/cli.js data/orders.json
//
// with the DSN in SENTRY_DSN and the SDK's node_modules on NODE_PATH. The SDK's
// onUncaughtException integration reports the crash and flushes it before the process exits.
'use strict';
const Sentry = require('@sentry/node');

Sentry.init({
  dsn: process.env.SENTRY_DSN,
  release: 'cart@1.0.0',
  environment: 'production',
});
