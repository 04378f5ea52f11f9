/**
 * The seam between the reference generic layer and a filesystem's ops table where a checker can
 * sit: the harness's contract monitor installs itself here, and every
 * reference-style adapter mounts its filesystem through it. The adapters only know this
 * interface, so the layers point one way (properties -> adapters), yet the monitor is on by
 * default wherever the harness runs.
 */
import type { FsInstance } from '../reference/iomap/fs-ops';

/** A checker wrapped around a mounted filesystem's ops tables. */
export interface FsMonitor {
  /** The filesystem as the generic layer must see it (every callback goes through the checker). */
  readonly wrapped: FsInstance;
  /** Checks that need a quiet moment (every ioend finished, folio references balanced). */
  checkQuiescent(): void;
  /** How often each rule was evaluated. */
  readonly evaluated: Map<string, number>;
}

export interface FsMonitorOptions {
  /** Logical sector size of the device (direct I/O alignment). */
  lbs: number;
  /** The file operation in progress, for reports. */
  currentOp?: () => string;
  /** Count rule evaluations here (shared across mounts) instead of in a map of the monitor's own. */
  evaluated?: Map<string, number>;
}

export type FsMonitorFactory = (fs: FsInstance, opts: FsMonitorOptions) => FsMonitor;

let installed: FsMonitorFactory | null = null;

/** Install the checker every later mount wraps the filesystem in (the contract monitor does, on load). */
export function installFsMonitor(factory: FsMonitorFactory): void {
  installed = factory;
}

/**
 * Install `load` (which loads the checker's module, whose load installs it) as the checker, unless
 * one is installed already: the module then loads at the first monitored mount, and a run that
 * mounts nothing (a target without the generic layer) never loads it.
 */
export function installFsMonitorLoader(load: () => void): void {
  if (installed !== null) return;
  const lazy: FsMonitorFactory = (fs, opts) => {
    load();
    if (installed === lazy) throw new Error('the contract monitor module did not install itself');
    return fsMonitorFactory()(fs, opts);
  };
  installed = lazy;
}

/** The installed checker; asking for a monitored mount before one is installed is a harness bug. */
export function fsMonitorFactory(): FsMonitorFactory {
  if (installed === null) {
    throw new Error('no contract monitor is installed: load the harness contract monitor module before mounting with monitor: true');
  }
  return installed;
}
