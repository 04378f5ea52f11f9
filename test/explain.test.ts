/**
 * `iomap-harness explain RULE`: a report's "Rule broken" line names a doc path inside the package;
 * explain prints the rule's text from anywhere. Every rule the monitor and the oracles can cite has
 * text, an unknown rule is a one-line usage error with the closest known one, and `§` is optional.
 */
import { strict as assert } from 'assert';
import { explainRule, sectionOf } from '../cli/explain-command';
import { RULES } from '../properties/contract/rules';
import { inProcess as cli } from './support/bin';

describe('iomap-harness explain', () => {
  it('prints a monitor rule from docs/contract.md: its name, status, text and the notes below the table', async () => {
    const r = await cli(['explain', 'R33']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^R33 map-blocks-hole-drops-data \(checked\)\n->map_blocks returns HOLE only where/);
    assert.match(r.out, /R33 is evaluated only when/);
    assert.match(r.out, /\(docs\/contract\.md#R33 in \//);
  });

  it('prints a file-level rule and an iomap-contract section from docs/rules.md (the § optional), and nothing of the next one', () => {
    const f = explainRule('fileops-14.4');
    assert.match(f.text, /^### fileops-14\.4 — a failed operation changes nothing/);
    assert.doesNotMatch(f.text, /fileops-14\.5/);
    const c = explainRule('iomap-contract-5.2');
    assert.equal(c.rule, 'iomap-contract-§5.2');
    assert.match(c.text, /^### iomap-contract-§5\.2/);
  });

  it('has text for every rule the contract monitor defines', () => {
    for (const rule of RULES) assert.ok(explainRule(rule.id).text.length > 20, rule.id);
  });

  it('an unknown rule is one line, exit 2, naming the closest rule', async () => {
    const r = await cli(['explain', 'fileops-14.44']);
    assert.equal(r.code, 2);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, /unknown rule fileops-14\.44 \(did you mean fileops-14\.\d+\?\)/);
    const none = await cli(['explain']);
    assert.equal(none.code, 2);
  });

  it('sectionOf stops at the next anchor or heading of its level', () => {
    const doc = '<a id="a"></a>\n### A\ntext a\n#### sub\nmore\n<a id="b"></a>\n### B\ntext b\n';
    assert.equal(sectionOf(doc, 'a'), '### A\ntext a\n#### sub\nmore');
    assert.equal(sectionOf(doc, 'b'), '### B\ntext b');
    assert.equal(sectionOf(doc, 'c'), null);
  });
});
