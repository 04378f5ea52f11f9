/**
 * Mocha reporter: mocha's spec output, then one plain closing line "N passed, N failed, N skipped"
 * that CI systems (and ours) read without knowing mocha's own summary format.
 */
import * as Mocha from 'mocha';

class SpecWithSummary extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const s = runner.stats ?? { passes: 0, failures: 0, pending: 0 };
      // Printed after spec's epilogue (registered first), as the last line of the run.
      process.nextTick(() => process.stdout.write(`tests: ${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`));
    });
  }
}

export = SpecWithSummary;
