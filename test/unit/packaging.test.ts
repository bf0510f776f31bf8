/**
 * What `npm pack` would publish, checked offline against the verified-plugin rules: no install
 * scripts of our own, Homebridge only in devDependencies and engines (a peerDependency makes npm
 * install a second Homebridge), the settings page in the package, and nothing the installed plugin
 * loads at run time that only a devDependency provides. (The install of the tarball into a clean
 * directory needs the registry, so it is a manual check; see the lead's notes.)
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { before, describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/homebridge.js';

interface Manifest {
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  engines?: Record<string, string>;
  keywords?: string[];
  files?: string[];
  main?: string;
}

const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as Manifest;

describe('packaging (npm pack, offline)', () => {
  let packed: Set<string>;

  before(() => {
    if (!existsSync(join(REPO_ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npx tsc -p tsconfig.json` first');
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '--offline'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
    const [info] = JSON.parse(out) as [{ files: { path: string }[] }];
    packed = new Set(info.files.map((f) => f.path));
  });

  it('no install scripts; homebridge only in devDependencies and engines', () => {
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(manifest.scripts?.[hook], undefined, `scripts.${hook}`);
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies'] as const) {
      assert.equal(manifest[field]?.homebridge, undefined, `${field}.homebridge`);
      assert.equal(manifest[field]?.['hap-nodejs'], undefined, `${field}.hap-nodejs`);
    }
    assert.ok(manifest.devDependencies?.homebridge, 'devDependencies.homebridge (the tests run against it)');
    assert.match(manifest.engines?.homebridge ?? '', /\^1\.8\.0 \|\| \^2\.0\.0/);
    assert.ok(manifest.engines?.node, 'engines.node');
    assert.ok(manifest.keywords?.includes('homebridge-plugin'));
  });

  it('ships the plugin, the schema and the settings page; no sources, tests or caches', () => {
    for (const file of ['package.json', 'README.md', 'LICENSE', 'config.schema.json', manifest.main ?? 'dist/index.js',
      'homebridge-ui/server.js', 'homebridge-ui/public/index.html', 'dist/ui/ui-requests.js', 'dist/mqtt/retained-watch.js']) {
      assert.ok(packed.has(file), `${file} is packed`);
    }
    const stray = [...packed].filter((f) => /^(src|test|bench|scripts|docs|\.cache|node_modules)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts'));
    assert.deepEqual(stray, []);
    const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'config.schema.json'), 'utf8')) as { customUi?: boolean };
    assert.equal(schema.customUi, true);
  });

  it('the settings page loads nothing remote', () => {
    const html = readFileSync(join(REPO_ROOT, 'homebridge-ui', 'public', 'index.html'), 'utf8');
    assert.deepEqual(html.match(/<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?\/\//gi) ?? [], []);
    assert.deepEqual(html.match(/@import|url\(\s*["']?(https?:)?\/\//gi) ?? [], []);
  });

  it('every module the installed plugin imports is packed or a runtime dependency', () => {
    const deps = new Set(Object.keys(manifest.dependencies ?? {}));
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const file of [...packed].filter((f) => f.endsWith('.js'))) {
      // Comments are prose ("kept apart from 'h264'"), not imports.
      const text = readFileSync(join(REPO_ROOT, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*|\bcreateRequire\([^)]*\)\s*\(\s*)["']([^"']+)["']/g)) {
        const spec = m[1]!;
        seen.add(spec);
        if (spec.startsWith('.')) {
          const target = normalize(join(dirname(file), spec));
          if (!packed.has(target)) missing.push(`${file} → ${spec} (not packed)`);
        } else if (!isBuiltin(spec)) {
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          if (!deps.has(name)) missing.push(`${file} → ${spec} (not in dependencies)`);
        }
      }
    }
    assert.deepEqual(missing, []);
    // The scan sees the dependencies that are loaded each way (static, and createRequire for the bundled FFmpeg).
    for (const spec of ['mqtt', 'ajv', '@homebridge/plugin-ui-utils', 'ffmpeg-for-homebridge']) assert.ok(seen.has(spec), `scan found ${spec}`);
  });
});
