/**
 * JUnit XML (the format CI systems read: Jenkins, GitLab, GitHub test reporters): one
 * <testsuite> per suite, one <testcase> per property (or mocha test), <failure> with the message
 * and details, <skipped> with the reason. Written by hand: the format is small, and escaping is
 * the only subtle part (XML 1.0 forbids most control characters even when escaped).
 */

export interface JUnitCase {
  classname: string;
  name: string;
  /** Seconds. */
  time: number;
  failure?: { message: string; type: string; text: string };
  skipped?: string;
  systemOut?: string;
}

export interface JUnitSuite {
  name: string;
  time: number;
  cases: JUnitCase[];
  properties?: Record<string, string>;
}

/** Escape text for XML 1.0 content and attribute values; drop characters XML cannot carry. */
export function xmlEscape(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const secs = (t: number): string => (Number.isFinite(t) && t > 0 ? t : 0).toFixed(3);

export function junitXml(name: string, suites: readonly JUnitSuite[]): string {
  const count = (f: (c: JUnitCase) => boolean) => suites.reduce((n, s) => n + s.cases.filter(f).length, 0);
  const tests = count(() => true);
  const failures = count((c) => c.failure !== undefined);
  const skipped = count((c) => c.skipped !== undefined);
  const time = suites.reduce((t, s) => t + s.time, 0);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(`<testsuites name="${xmlEscape(name)}" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}" time="${secs(time)}">`);
  for (const s of suites) {
    const f = s.cases.filter((c) => c.failure !== undefined).length;
    const k = s.cases.filter((c) => c.skipped !== undefined).length;
    out.push(`  <testsuite name="${xmlEscape(s.name)}" tests="${s.cases.length}" failures="${f}" errors="0" skipped="${k}" time="${secs(s.time)}">`);
    if (s.properties !== undefined && Object.keys(s.properties).length > 0) {
      out.push('    <properties>');
      for (const [pk, pv] of Object.entries(s.properties)) out.push(`      <property name="${xmlEscape(pk)}" value="${xmlEscape(pv)}"/>`);
      out.push('    </properties>');
    }
    for (const c of s.cases) {
      const head = `    <testcase classname="${xmlEscape(c.classname)}" name="${xmlEscape(c.name)}" time="${secs(c.time)}"`;
      if (c.failure === undefined && c.skipped === undefined && c.systemOut === undefined) {
        out.push(`${head}/>`);
        continue;
      }
      out.push(`${head}>`);
      if (c.failure !== undefined) {
        out.push(`      <failure message="${xmlEscape(c.failure.message)}" type="${xmlEscape(c.failure.type)}">${xmlEscape(c.failure.text)}</failure>`);
      }
      if (c.skipped !== undefined) out.push(`      <skipped message="${xmlEscape(c.skipped)}"/>`);
      if (c.systemOut !== undefined) out.push(`      <system-out>${xmlEscape(c.systemOut)}</system-out>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}
