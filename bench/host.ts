/**
 * Host adapter benchmark: ops/s of a simple fsx-like op loop on real kernel filesystems.
 *
 *   benchHost(fsType, ops, {seed?, maxlen?, maxoplen?, dir?})
 *
 * Makes a throw-away scratch filesystem of `fsType` (root; adapters/host/scratch.ts) — or uses `dir`,
 * an existing directory, which is then taken as the scratch root — opens the host adapter there and
 * runs `ops` operations: read (compared against an in-memory model), write, truncate, and punch
 * hole / zero range when the filesystem supports them, chosen by a seeded xorshift32. The real fsx
 * engine (properties/fsx) plugs in later; this loop has no oracle beyond byte equality.
 *
 * From the command line: node dist/bench/host.js [-N ops] [--seed S] [--json] [xfs ext4 btrfs tmpfs]
 */

import { createHostAdapter } from '../adapters/host';
import { createScratch, destroyScratch, scratchUnavailable, SCRATCH_TYPES, type ScratchType } from '../adapters/host/scratch';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE } from '../adapters/types';

export interface HostBenchOptions {
  seed?: number;
  /** Largest file size (fsx -l). Default 256 KiB. */
  maxlen?: number;
  /** Largest op length (fsx -o). Default 64 KiB. */
  maxoplen?: number;
  /** Use this existing directory instead of making a scratch filesystem (no root needed). */
  dir?: string;
}

export interface HostBenchResult {
  fsType: string;
  ops: number;
  elapsedMs: number;
  opsPerSec: number;
  /** Ops of each kind that ran. */
  mix: Record<string, number>;
  /** Reads whose bytes differed from the model (0 unless the filesystem or adapter is broken). */
  mismatches: number;
  /** Set (and nothing ran) when the filesystem cannot be made here. */
  skipped?: string;
}

/** Run the loop on a fresh scratch filesystem of `fsType` (or in opts.dir). Synchronous. */
export function benchHost(fsType: ScratchType, ops: number, opts: HostBenchOptions = {}): HostBenchResult {
  if (!Number.isSafeInteger(ops) || ops < 0) throw new Error(`benchHost: ops must be a non-negative integer, got ${ops}`);
  let dir = opts.dir;
  let made: string | null = null;
  if (dir === undefined) {
    const why = scratchUnavailable(fsType);
    if (why !== null) return { fsType, ops: 0, elapsedMs: 0, opsPerSec: 0, mix: {}, mismatches: 0, skipped: why };
    made = createScratch(fsType).mount;
    dir = made;
  }
  try {
    return loop(fsType, dir, ops, opts);
  } finally {
    if (made !== null) destroyScratch(made);
  }
}

function loop(fsType: string, dir: string, ops: number, opts: HostBenchOptions): HostBenchResult {
  const maxlen = opts.maxlen ?? 256 * 1024;
  const maxoplen = Math.min(opts.maxoplen ?? 64 * 1024, maxlen);
  let x = (opts.seed ?? 1) >>> 0 || 1;
  const rnd = (): number => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
  const adapter = createHostAdapter({ path: dir, scratch: dir });
  const modes = adapter.capabilities.fallocModes;
  const kinds = ['read', 'write', 'truncate'];
  if (modes.includes(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) kinds.push('punch');
  if (modes.includes(FALLOC_FL_ZERO_RANGE)) kinds.push('zero');
  const mix: Record<string, number> = Object.fromEntries(kinds.map((k) => [k, 0]));
  const model = Buffer.alloc(maxlen + maxoplen);
  const data = Buffer.alloc(maxoplen);
  let size = 0;
  let mismatches = 0;
  const t = adapter.open();
  const t0 = performance.now();
  try {
    for (let n = 1; n <= ops; n++) {
      const kind = kinds[rnd() % kinds.length];
      mix[kind]++;
      const off = rnd() % maxlen;
      const len = 1 + (rnd() % maxoplen);
      switch (kind) {
        case 'read': {
          if (size === 0) break;
          const o = off % size;
          const l = Math.min(len, size - o);
          const got = t.pread(o, l);
          if (got.length !== l || model.compare(got, 0, l, o, o + l) !== 0) mismatches++;
          break;
        }
        case 'write': {
          const l = Math.min(len, maxlen - off);
          data.fill(n & 0xff, 0, l);
          data[0] = (n >> 8) & 0xff;
          t.pwrite(off, data.subarray(0, l));
          model.set(data.subarray(0, l), off);
          if (off + l > size) size = off + l;
          break;
        }
        case 'truncate': {
          const s = rnd() % maxlen;
          t.truncate(s);
          if (s < size) model.fill(0, s, size);
          size = s;
          break;
        }
        case 'punch':
        case 'zero': {
          if (size === 0) break;
          const o = off % size;
          const l = Math.min(len, size - o);
          t.fallocate!(kind === 'punch' ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_ZERO_RANGE, o, l);
          model.fill(0, o, o + l);
          break;
        }
      }
    }
  } finally {
    adapter.close();
  }
  const elapsedMs = performance.now() - t0;
  // With opts.dir the filesystem is whatever is there: report what was detected.
  const detected = adapter.info.fsType;
  return { fsType: detected === 'generic' ? fsType : detected, ops, elapsedMs, opsPerSec: elapsedMs > 0 ? Math.round((ops * 1000) / elapsedMs) : 0, mix, mismatches };
}

function main(argv: string[]): number {
  let ops = 100000;
  let seed = 1;
  let json = false;
  const types: ScratchType[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-N' || a === '--ops') ops = Number(argv[++i]);
    else if (a === '--seed' || a === '-S') seed = Number(argv[++i]);
    else if (a === '--json') json = true;
    else if ((SCRATCH_TYPES as readonly string[]).includes(a)) types.push(a as ScratchType);
    else {
      process.stderr.write(`bench/host: unknown argument ${JSON.stringify(a)} (usage: [-N ops] [--seed S] [--json] [xfs ext4 btrfs tmpfs])\n`);
      return 2;
    }
  }
  if (!Number.isSafeInteger(ops) || ops < 1 || !Number.isSafeInteger(seed)) {
    process.stderr.write('bench/host: -N and --seed need positive integers\n');
    return 2;
  }
  const results = (types.length ? types : [...SCRATCH_TYPES]).map((t) => benchHost(t, ops, { seed }));
  for (const r of results) {
    if (json) process.stdout.write(JSON.stringify({ bench: 'host', ...r, elapsedMs: Math.round(r.elapsedMs) }) + '\n');
    else if (r.skipped !== undefined) process.stdout.write(`${r.fsType.padEnd(6)} skipped: ${r.skipped}\n`);
    else process.stdout.write(`${r.fsType.padEnd(6)} ${String(r.opsPerSec).padStart(8)} ops/s  (${r.ops} ops, ${Math.round(r.elapsedMs)} ms, ${r.mismatches} mismatches)\n`);
  }
  return results.some((r) => r.mismatches > 0) ? 1 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
