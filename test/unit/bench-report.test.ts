/** bench/report-issue11.ts: `npm run bench` keeps the sections other bench scripts wrote. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keepMarkedSections } from '../../bench/report-issue11.js';

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
});
