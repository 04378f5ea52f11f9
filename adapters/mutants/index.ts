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

/**
 * The mutant with the options it is given, nothing more: the catalog's `geometry` and `options`
 * say what the bug needs to show, and the setup sweep (fsx and check draw setups per seed) is what reaches
 * it, as it must reach it on a user's filesystem.
 */
export function createMutant(spec: MutantSpec, opts: AdapterOptions = {}): MutantAdapter {
  return new MutantAdapter(spec, {
    blockSize: opts.blockSize as number | undefined,
    folioSize: opts.folioSize as number | undefined,
    sectorSize: opts.sectorSize as number | undefined,
    poison: opts.poison as number | undefined,
    eofPrealloc: opts.eofPrealloc as number | undefined,
    inlineMax: opts.inlineMax as number | undefined,
    personality: opts.personality as string | undefined,
    api: opts.api as string | undefined,
  });
}

/** The poison seed a catalog entry names (true: the default seed). */
export function poisonSeed(p: boolean | number | undefined): number | undefined {
  return p === true ? DEFAULT_POISON_SEED : p === false ? undefined : p;
}

for (const spec of MUTANTS) {
  const imitates = spec.commit !== undefined ? ` — imitates ${spec.commit}` : '';
  registerAdapter(spec.name, { describe: `${spec.section}: ${spec.description}${imitates}`, create: (opts) => createMutant(spec, opts) },
    { mutant: true, inMemory: true });
}

export { MUTANTS };
