/**
 * The two ways an out-of-process target can fail outside the filesystem semantics checked by the
 * monitor and the oracles (docs/protocol.md "Errors"):
 *
 * - TargetError (exit code 3): the server crashed, hung, printed something that is not a reply,
 *   answered another request, or sent a value out of range. The message is one line and names the
 *   last request. It extends adapters/errors.ts's TargetError, which the CLI maps to exit 3.
 * - ProtocolError (exit code 2): the handshake failed for a reason the user has to fix (protocol
 *   version mismatch, wrong level, command not found). It extends the registry's AdapterSpecError.
 */
import { TargetError as EngineTargetError } from '../errors';
import { AdapterSpecError } from '../registry';

export type TargetFailure = 'crash' | 'hang' | 'malformed' | 'wrong-id' | 'bad-value' | 'dead';

export class TargetError extends EngineTargetError {
  /** What went wrong. */
  readonly kind: TargetFailure;
  /** The last request sent ("#12 iomap_begin {...}"), or '' before the first one. */
  readonly request: string;
  constructor(kind: TargetFailure, message: string, request: string) {
    super(message);
    this.name = 'TargetError';
    this.kind = kind;
    this.request = request;
  }
}

export class ProtocolError extends AdapterSpecError {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}
