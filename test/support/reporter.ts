/**
 * Mocha reporter: mocha's spec output, then one plain closing line "N passed, N failed, N skipped"
 * that CI systems (and ours) read without knowing mocha's own summary format.
 *
 * With MOCHA_JUNIT=FILE in the environment it also writes a JUnit XML report to FILE (one
 * <testsuite> per top-level describe, one <testcase> per test, failures with their message and
 * stack, pending tests as skipped), through the same writer `iomap-harness check --junit` uses.
 */
import * as fs from 'fs';
import * as Mocha from 'mocha';
import { junitXml, JUnitCase, JUnitSuite } from '../../properties/suites/junit';

/** The top-level describe a test belongs to (its JUnit suite), and the rest of its title path. */
function place(t: Mocha.Runnable): { suite: string; name: string } {
  const path = t.titlePath();
  return path.length > 1 ? { suite: path[0], name: path.slice(1).join(' › ') } : { suite: '(root)', name: path[0] ?? '' };
}

class JUnitCollector {
  private readonly suites = new Map<string, JUnitSuite>();

  private add(t: Mocha.Runnable, c: Omit<JUnitCase, 'classname' | 'name'>): void {
    const { suite, name } = place(t);
    let s = this.suites.get(suite);
    if (s === undefined) {
      s = { name: suite, time: 0, cases: [] };
      this.suites.set(suite, s);
    }
    s.cases.push({ classname: suite, name, ...c });
    s.time += c.time;
  }

  pass(t: Mocha.Test): void {
    this.add(t, { time: (t.duration ?? 0) / 1000 });
  }

  fail(t: Mocha.Runnable, err: Error): void {
    const message = (err?.message ?? String(err)).split('\n')[0];
    this.add(t, { time: (t.duration ?? 0) / 1000, failure: { message, type: err?.name ?? 'Error', text: err?.stack ?? String(err) } });
  }

  pending(t: Mocha.Test): void {
    this.add(t, { time: 0, skipped: 'pending' });
  }

  write(file: string): void {
    fs.writeFileSync(file, junitXml('mocha', [...this.suites.values()]));
  }
}

class SpecWithSummary extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    const junitFile = process.env.MOCHA_JUNIT;
    const junit = junitFile ? new JUnitCollector() : null;
    if (junit !== null) {
      runner.on(Mocha.Runner.constants.EVENT_TEST_PASS, (t: Mocha.Test) => junit.pass(t));
      runner.on(Mocha.Runner.constants.EVENT_TEST_FAIL, (t: Mocha.Runnable, err: Error) => junit.fail(t, err));
      runner.on(Mocha.Runner.constants.EVENT_TEST_PENDING, (t: Mocha.Test) => junit.pending(t));
    }
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const s = runner.stats ?? { passes: 0, failures: 0, pending: 0 };
      if (junit !== null && junitFile) {
        try {
          junit.write(junitFile);
        } catch (e) {
          process.stderr.write(`MOCHA_JUNIT=${junitFile}: cannot write the JUnit report: ${e instanceof Error ? e.message : String(e)}\n`);
        }
      }
      // Printed after spec's epilogue (registered first), as the last line of the run.
      process.nextTick(() => process.stdout.write(`tests: ${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`));
    });
  }
}

export = SpecWithSummary;
