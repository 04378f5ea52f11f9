#!/usr/bin/env node
/*
 * Round-trip latency of the out-of-process transport (docs/protocol.md "Performance").
 *
 *   npm run build && node examples/latency.js [CALLS]
 *
 * Sends CALLS (default 20000) "ping" requests, one at a time as the harness does, to
 *   1. a minimal Node.js server (the transport's own cost: worker thread, pipes, JSON),
 *   2. examples/file-server.py (what a Python server adds),
 * and prints the mean, median and 99th percentile round trip in microseconds.
 */
'use strict';
const path = require('path');
const { ProcessTransport } = require('../dist/adapters/process/transport');

const calls = Number(process.argv[2] || 20000);
const NODE_SERVER = `
const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', (l) => {
  const m = JSON.parse(l);
  if (m.method === 'hello') return process.stdout.write(JSON.stringify({ id: m.id, result: { protocol: 1, name: 'echo', level: 'file', capabilities: {}, geometry: { blockSize: 4096 } } }) + '\\n');
  process.stdout.write(JSON.stringify({ id: m.id, result: {} }) + '\\n');
  if (m.method === 'bye') process.exit(0);
});`;

function measure(label, command, args, hello) {
  const t = new ProcessTransport(command, args, { label });
  try {
    t.call('hello', hello, { protocol: 1, level: 'any' });
    for (let i = 0; i < 1000; i++) t.call('ping');
    const us = new Float64Array(calls);
    for (let i = 0; i < calls; i++) {
      const t0 = performance.now();
      t.call('ping', { i });
      us[i] = (performance.now() - t0) * 1000;
    }
    us.sort();
    const mean = us.reduce((a, b) => a + b, 0) / calls;
    console.log(`${label.padEnd(28)} mean ${mean.toFixed(1)} us   median ${us[calls >> 1].toFixed(1)} us   p99 ${us[Math.floor(calls * 0.99)].toFixed(1)} us   (${calls} calls)`);
  } finally {
    t.close();
  }
}

const scratch = require('fs').mkdtempSync(path.join(require('os').tmpdir(), 'iomap-latency-'));
try {
  measure('node echo server', process.execPath, ['-e', NODE_SERVER], {});
  measure('examples/file-server.py', 'python3', [path.join(__dirname, 'file-server.py')], { scratch });
} finally {
  require('fs').rmSync(scratch, { recursive: true, force: true });
}
