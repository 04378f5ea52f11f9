/**
 * Preloaded (`node --require`) into the processes bench/run.ts measures: at exit, print the
 * process's peak resident set size on stderr, where the benchmark reads it.
 */
process.on('exit', () => {
  process.stderr.write(`\nBENCH_MAXRSS_KIB ${process.resourceUsage().maxRSS}\n`);
});
