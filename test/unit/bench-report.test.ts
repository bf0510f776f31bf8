/** bench/doc-sections.ts: bench scripts share docs/benchmarks.md, each owning its marked section. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keepMarkedSections, replaceMarkedSection } from '../../bench/doc-sections.js';

describe('benchmarks.md sections', () => {
  const copy = '<!-- copy-sender bench: start -->\n## Copy\n| a | b |\n<!-- copy-sender bench: end -->';
  const other = '<!-- other: start -->\nx\n<!-- other: end -->';

  it('a regenerated doc keeps every marked section of the previous one, in order', () => {
    const previous = `# Old\n\nold table\n\n${copy}\n\nold tail\n\n${other}\n`;
    assert.equal(keepMarkedSections(previous, '# New\n\nnew table\n'), `# New\n\nnew table\n\n${copy}\n\n${other}\n`);
  });

  it('a section the new doc writes itself is not doubled; no markers, no change', () => {
    const fresh = '<!-- copy-sender bench: start -->\nnew\n<!-- copy-sender bench: end -->';
    assert.equal(keepMarkedSections(`${copy}\n${other}`, `# New\n${fresh}\n`), `# New\n${fresh}\n\n${other}\n`);
    assert.equal(keepMarkedSections('# Old\n', '# New\n'), '# New\n');
  });

  it('a script rewrites only its own section, or appends it when the page has none yet', () => {
    const doc = `# Page\n\n${copy}\n\n${other}\n`;
    const fresh = '<!-- copy-sender bench: start -->\n## Copy\n| c | d |\n<!-- copy-sender bench: end -->';
    assert.equal(replaceMarkedSection(doc, 'copy-sender bench', fresh), `# Page\n\n${fresh}\n\n${other}\n`);
    assert.equal(replaceMarkedSection('# Page\n', 'copy-sender bench', fresh), `# Page\n\n${fresh}\n`);
  });
});
