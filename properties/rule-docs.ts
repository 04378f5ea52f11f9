/**
 * Where each rule a report can cite is written down in the project's own docs: the file-level
 * invariants (`fileops-14.N`) and the iomap contract sections (`iomap-contract-§N`) in
 * docs/rules.md, the contract monitor's rules (`R01`..`R47`, and `C01`..`C07` of the current API
 * generation) in docs/contract.md's table. Report
 * lines and the failure explorer link there (test/first-hour.test.ts checks every cited rule has
 * its section).
 */

import * as path from 'path';
import { pathToFileURL } from 'url';

/** The doc and anchor of `rule`: `docs/rules.md#fileops-14.3`. */
export function ruleDoc(rule: string): string {
  if (/^[RC]\d+$/.test(rule)) return `docs/contract.md#${rule}`;
  const sec = /^iomap-contract-§(.+)$/.exec(rule);
  if (sec !== null) return `docs/rules.md#iomap-contract-${sec[1]}`;
  return `docs/rules.md#${rule}`;
}

/** The same as a file: URL into this package's docs (the failure explorer's links). */
export function ruleDocUrl(rule: string): string {
  const [file, anchor] = ruleDoc(rule).split('#');
  return `${pathToFileURL(path.resolve(__dirname, '..', '..', file)).href}#${anchor}`;
}
