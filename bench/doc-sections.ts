/**
 * docs/benchmarks.md is written by several bench scripts: `npm run bench` owns the page, the others
 * (bench:copy, bench:cameras) own one section each between `<!-- name: start -->` / `<!-- name: end -->`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/helpers/homebridge.js';

export const BENCHMARKS_DOC = join(REPO_ROOT, 'docs', 'benchmarks.md');

const MARKER = /<!-- ([^:>]+): start -->[\s\S]*?<!-- \1: end -->/g;

export const sectionMarks = (name: string): { start: string; end: string } => ({ start: `<!-- ${name}: start -->`, end: `<!-- ${name}: end -->` });

/**
 * `next` with every marked section of `previous` that `next` does not write itself appended, so a
 * run of `npm run bench` keeps what `npm run bench:copy` (and other scripts) wrote.
 */
export function keepMarkedSections(previous: string, next: string): string {
  const own = new Set([...next.matchAll(MARKER)].map((m) => m[1]));
  const kept = [...previous.matchAll(MARKER)].filter((m) => !own.has(m[1])).map((m) => m[0]);
  return kept.length === 0 ? next : `${next.trimEnd()}\n\n${kept.join('\n\n')}\n`;
}

/** `doc` with the section named `name` replaced by `section` (which carries its own marks), or appended. */
export function replaceMarkedSection(doc: string, name: string, section: string): string {
  const { start, end } = sectionMarks(name);
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  return a >= 0 && b > a ? doc.slice(0, a) + section + doc.slice(b + end.length) : `${doc.trimEnd()}\n\n${section}\n`;
}

/** Writes one script's section into docs/benchmarks.md, leaving the rest of the page as it is. */
export function writeMarkedSection(name: string, section: string): void {
  const doc = existsSync(BENCHMARKS_DOC) ? readFileSync(BENCHMARKS_DOC, 'utf8') : '';
  writeFileSync(BENCHMARKS_DOC, replaceMarkedSection(doc, name, section));
}
