#!/usr/bin/env node
// Regtest bcoin full node for the integration tests and the local demo.
//
// Usage: node scripts/regtest-node.js [--port N] [--api-key KEY] [--log-level L] [--data-dir DIR]
//        [--exit-with-stdin]   or env REGTEST_RPC_PORT / REGTEST_RPC_API_KEY.
// The chain lives in memory (tests), or under --data-dir so that `make run` continues the same
// chain its database has already scanned. The node makes no P2P connections; JSON-RPC (Bitcoin Core
// dialect) answers on http://<any user>:<api key>@127.0.0.1:<port>/. Because the P2P pool
// is never connected, `invalidateblock` logs a harmless "Pool is not connected!" error
// (bcoin asks the pool to resync after the chain reset).
'use strict';

const networks = require('bcoin/lib/protocol/networks');

// Bitcoin Core's regtest prefixes, so bcrt1... / m... / 2... addresses work as they do
// against Core. This must happen before any bcoin module reads the network object.
networks.regtest.addressPrefix = {
  pubkeyhash: 0x6f,
  scripthash: 0xc4,
  witnesspubkeyhash: 0x03,
  witnessscripthash: 0x28,
  bech32: 'bcrt'
};

const bcoin = require('bcoin');

function option(name, envName, fallback) {
  const flag = `--${name}`;
  const index = process.argv.indexOf(flag);
  if (index !== -1 && index + 1 < process.argv.length)
    return process.argv[index + 1];
  const inline = process.argv.find(arg => arg.startsWith(`${flag}=`));
  if (inline)
    return inline.slice(flag.length + 1);
  if (process.env[envName])
    return process.env[envName];
  return fallback;
}

const port = Number(option('port', 'REGTEST_RPC_PORT', '18443'));
const apiKey = option('api-key', 'REGTEST_RPC_API_KEY', 'regtest');
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`invalid port: ${port}`);
  process.exit(2);
}

const dataDir = option('data-dir', 'REGTEST_DATA_DIR', '');

const node = new bcoin.FullNode({
  network: 'regtest',
  memory: !dataDir,
  prefix: dataDir || undefined,
  workers: false,
  listen: false,
  httpHost: '127.0.0.1',
  httpPort: port,
  apiKey,
  logConsole: true,
  logLevel: option('log-level', 'REGTEST_LOG_LEVEL', 'info')
});

let closing = false;
async function shutdown(signal) {
  if (closing)
    return;
  closing = true;
  console.log(`regtest node: ${signal}, closing`);
  try {
    await node.close();
  } finally {
    process.exit(0);
  }
}

process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
// A parent process (the test runner) can tie our life to a pipe on stdin, so the node
// never outlives it, even when the parent is killed without cleaning up.
if (process.argv.includes('--exit-with-stdin')) {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.resume();
}

(async () => {
  if (dataDir)
    await node.ensure();  // creates the chain's directories under the prefix
  await node.open();
  console.log(`regtest node: rpc listening on http://127.0.0.1:${port}/`);
})().catch((error) => {
  console.error(error.stack || error);
  process.exit(1);
});
