/**
 * The setups the generation comparison runs refs at (test/api-generations.test.ts and its long
 * version): small and large blocks, small and large folios, post-EOF preallocation, a poisoned
 * device, inline data on and off.
 */
import type { ReferenceOptions } from '../../adapters/reference';

export const GENERATION_SETUPS: Array<{ label: string; ref: ReferenceOptions }> = [
  { label: 'bs 512, folio 4k, eof-prealloc 64k, poison', ref: { blockSize: 512, folioSize: 4096, eofPrealloc: 65536, poison: 7 } },
  { label: 'bs 1k, folio 64k, inline off', ref: { blockSize: 1024, folioSize: 65536, inlineMax: 0 } },
  { label: 'bs 4k, folio 64k, inline on', ref: { blockSize: 4096, folioSize: 65536 } },
  { label: 'bs 16k, folio 2M', ref: { blockSize: 16384, folioSize: 2 * 1024 * 1024 } },
];
