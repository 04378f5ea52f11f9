#!/usr/bin/env node
'use strict';
/*
 * Builds the optional native addon (native/build/Release/iomap_native.node) at `npm install`/`npm ci`.
 *
 * Never fails the install: if the addon cannot be built, it prints ONE line saying why and exits 0;
 * the harness then runs without O_DIRECT and the host-filesystem extras (see docs/devices.md).
 *
 * Offline by design: node-gyp is run with --nodedir pointing at the installed Node headers
 * (/usr/include/node on Debian), so it never tries to download them. Order of attempts:
 *   1. node-gyp (npm's bundled copy, or $npm_config_node_gyp) `rebuild --nodedir=DIR`
 *   2. a direct `cc -shared -fPIC` of native/src/*.c against DIR/include/node
 * Environment: IOMAP_NATIVE=0 skips the build; IOMAP_NATIVE_VERBOSE=1 shows the compiler output.
 */
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const here = __dirname;
const out = path.join(here, 'build', 'Release', 'iomap_native.node');
const verbose = process.env.IOMAP_NATIVE_VERBOSE === '1';

function say(line) {
  process.stdout.write(`iomap-harness: ${line}\n`);
}

function unavailable(reason) {
  say(`native addon unavailable (${reason}); O_DIRECT and host-filesystem extras are disabled`);
  process.exit(0);
}

function findNodeDir() {
  const candidates = [];
  if (process.env.npm_config_nodedir) candidates.push(process.env.npm_config_nodedir);
  candidates.push(path.resolve(path.dirname(process.execPath), '..'));
  candidates.push('/usr', '/usr/local');
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h'))) return dir;
  }
  return null;
}

function findNodeGyp() {
  const candidates = [];
  const env = process.env.npm_config_node_gyp;
  if (env) candidates.push(env);
  const npmDirs = [
    path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm'),
    '/usr/lib/node_modules/npm',
    '/usr/local/lib/node_modules/npm',
  ];
  for (const d of npmDirs) candidates.push(path.join(d, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch (_) {
    /* not a dependency: fine */
  }
  for (const c of candidates) {
    if (c.endsWith('.js') && fs.existsSync(c)) return c;
  }
  return null;
}

function run(label, cmd, args) {
  const r = spawnSync(cmd, args, {
    cwd: here,
    encoding: 'utf8',
    timeout: 180000,
    stdio: verbose ? 'inherit' : 'pipe',
    env: { ...process.env, npm_config_offline: 'true' },
  });
  if (r.error) return `${label}: ${r.error.code || r.error.message}`;
  if (r.status !== 0) {
    const text = `${r.stderr || ''}\n${r.stdout || ''}`;
    const errLine = text.split('\n').map((l) => l.trim()).find((l) => /error/i.test(l) && l.length > 0);
    return `${label} exited ${r.status === null ? `by ${r.signal}` : r.status}` +
      (errLine ? `: ${errLine.slice(0, 160)}` : '');
  }
  return null;
}

function loads() {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(out)})`], { encoding: 'utf8', timeout: 30000 });
  if (r.status === 0) return null;
  const line = (r.stderr || '').split('\n').find((l) => /Error/.test(l)) || `exit ${r.status}`;
  return `built but does not load: ${line.trim().slice(0, 160)}`;
}

function main() {
  if (process.env.IOMAP_NATIVE === '0') unavailable('IOMAP_NATIVE=0');
  if (process.platform !== 'linux') unavailable(`platform is ${process.platform}, not linux`);
  const nodedir = findNodeDir();
  if (!nodedir) unavailable('Node headers (include/node/node_api.h) not found; install the nodejs dev headers');

  const failures = [];
  const gyp = findNodeGyp();
  if (gyp) {
    const err = run('node-gyp', process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=error']);
    if (!err && fs.existsSync(out)) {
      const bad = loads();
      if (!bad) return say(`native addon built (${path.relative(process.cwd(), out) || out})`);
      failures.push(`node-gyp: ${bad}`);
    } else {
      failures.push(err || 'node-gyp produced no addon');
    }
  } else {
    failures.push('node-gyp not found');
  }

  // Fallback: plain compiler invocation.
  const cc = process.env.CC || 'cc';
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const srcs = fs.readdirSync(path.join(here, 'src')).filter((f) => f.endsWith('.c')).map((f) => path.join('src', f));
  const err = run(cc, cc, ['-shared', '-fPIC', '-O2', '-std=gnu11', '-D_GNU_SOURCE', '-DNAPI_VERSION=8',
    `-I${path.join(nodedir, 'include', 'node')}`, ...srcs, '-o', out]);
  if (!err && fs.existsSync(out)) {
    const bad = loads();
    if (!bad) return say(`native addon built with ${cc} (${path.relative(process.cwd(), out) || out})`);
    failures.push(`${cc}: ${bad}`);
  } else {
    failures.push(err || `${cc} produced no addon`);
  }
  try {
    fs.rmSync(out, { force: true });
  } catch (_) {
    /* ignore */
  }
  unavailable(failures.join('; '));
}

try {
  main();
} catch (e) {
  unavailable(`build script error: ${e && e.message ? e.message : String(e)}`);
}
