/** Whether python3 (3.6 or later) runs here: the example servers need it. */
import { execFileSync } from 'child_process';

export function havePython(): boolean {
  try {
    execFileSync('python3', ['-c', 'import sys; sys.exit(0 if sys.version_info >= (3, 6) else 1)'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A mocha before() hook: skip the suite, saying why, when python3 is missing. */
export function skipWithoutPython(this: Mocha.Context): void {
  if (havePython()) return;
  console.log('    (skipped: python3 3.6+ is not installed)');
  this.skip();
}
