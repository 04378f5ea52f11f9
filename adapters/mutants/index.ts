/**
 * Registers every bug-zoo mutant as `mutant:NAME`: the reference adapter with one core or refs
 * bug switched on while the adapter is open (switched off again by close()).
 */
import { registerAdapter, AdapterOptions } from '../registry';
import { ReferenceAdapter, ReferenceOptions } from '../reference';
import type { FileTarget } from '../types';
import type { VolumeProvider } from '../volume';
import { modelBugs } from '../../reference/bugs';
import { Refs } from '../../reference/fs/refs';
import { DEFAULT_POISON_SEED } from '../../reference/device/memory';
import { MUTANTS, MutantSpec } from './catalog';

export class MutantAdapter extends ReferenceAdapter {
  readonly spec: MutantSpec;
  private on = false;

  constructor(spec: MutantSpec, opts: ReferenceOptions) {
    super({
      ...opts,
      configureFs: (fs) => {
        if (spec.refs && fs instanceof Refs) fs.bugs = { [spec.refs]: true };
      },
    });
    this.spec = spec;
    (this as { name: string }).name = `mutant:${spec.name}`;
  }

  /** The volume capability, with the core switch on for the duration of each harness session. */
  get volume(): VolumeProvider {
    const core = this.spec.core;
    const base = super.volume;
    if (!core) return base;
    return {
      ...base,
      session: <T>(fn: () => T): T => {
        const was = modelBugs[core];
        modelBugs[core] = true;
        try {
          return fn();
        } finally {
          modelBugs[core] = was;
        }
      },
    };
  }

  open(): FileTarget {
    if (this.spec.core) {
      modelBugs[this.spec.core] = true;
      this.on = true;
    }
    return super.open();
  }

  close(): void {
    try {
      super.close();
    } finally {
      if (this.on && this.spec.core) modelBugs[this.spec.core] = false;
      this.on = false;
    }
  }
}

export function createMutant(spec: MutantSpec, opts: AdapterOptions = {}): MutantAdapter {
  return new MutantAdapter(spec, {
    blockSize: (opts.blockSize as number | undefined) ?? spec.geometry?.blockSize,
    folioSize: (opts.folioSize as number | undefined) ?? spec.geometry?.folioSize,
    sectorSize: opts.sectorSize as number | undefined,
    // The spec's setup is the default; explicit options (a replayed log's setup) win.
    poison: (opts.poison as number | undefined) ?? poisonSeed(spec.options?.poison),
    eofPrealloc: (opts.eofPrealloc as number | undefined) ?? spec.options?.eofPrealloc,
    personality: opts.personality as string | undefined,
  });
}

function poisonSeed(p: boolean | number | undefined): number | undefined {
  return p === true ? DEFAULT_POISON_SEED : p === false ? undefined : p;
}

for (const spec of MUTANTS) {
  registerAdapter(spec.name, { describe: `${spec.section}: ${spec.description}`, create: (opts) => createMutant(spec, opts) },
    { mutant: true, inMemory: true });
}

export { MUTANTS };
