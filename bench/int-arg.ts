/** `--NAME N` from a benchmark's argv: a positive integer, or `dflt` when the flag is absent. */
export function intArg(bench: string, argv: readonly string[], name: string, dflt: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(argv[i + 1]);
  if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${bench} bench: --${name} needs a positive integer`);
  return v;
}
