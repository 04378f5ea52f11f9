#!/bin/sh
':' //; exec node --max-semi-space-size=4 --single-threaded "$0" "$@"
'use strict';
// The two lines above are read by sh and by Node alike: run as a program (npm's bin link,
// ./bin/iomap-harness.js), sh starts Node with the flags of cli/relaunch.ts (young generation, V8 threads) at once,
// so no launcher process stays beside the run (42 MiB and ~0.1 CPU-s each). For Node, the second
// line is a string and a comment. Started as `node bin/iomap-harness.js`, the relaunch does it.
// Thin launcher: the CLI is compiled from cli/main.ts into dist/ by `npm ci` (the prepare script).
const path = require('path');
// A command that runs a target runs in a child with a small young generation (cli/relaunch.ts).
let relaunched = false;
try {
  relaunched = require(path.join(__dirname, '..', 'dist', 'cli', 'relaunch.js')).relaunch(__filename, process.argv.slice(2));
} catch (e) {
  if (e && e.code !== 'MODULE_NOT_FOUND') throw e;
}
if (!relaunched) runHere();

function runHere() {
  let main;
  try {
    // V8's compiler settings for the commands that run a target (cli/relaunch.ts, tuneCompiler).
    require(path.join(__dirname, '..', 'dist', 'cli', 'relaunch.js')).tuneCompiler(process.argv.slice(2));
  } catch (e) {
    if (e && e.code !== 'MODULE_NOT_FOUND') throw e;
  }
  try {
    main = require(path.join(__dirname, '..', 'dist', 'cli', 'main.js')).main;
  } catch (e) {
    process.stderr.write('iomap-harness: not built (run `npm ci` or `npm run build` first): ' + e.message + '\n');
    process.exit(2);
  }
  // `iomap-harness fsx | head`: a reader that went away is not an error of ours; stop quietly.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e) => {
      if (e && e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => {
    process.stderr.write('iomap-harness: internal error: ' + (e && e.stack || e) + '\n');
    process.exitCode = 3;
  });
}
