import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// What `npm pack` would publish: every module with its type declarations, and the paths that
// package.json's main, types and exports name, so `import … from '@broker/client'` is typed.
const root = fileURLToPath(new URL('..', import.meta.url));

test('npm pack ships every module and .d.ts in src, and nothing else of ours', () => {
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' },
  }));
  const files = packed.files.map((f) => f.path).sort();
  const sources = readdirSync(new URL('../src', import.meta.url)).filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'));
  assert.deepEqual(files, ['README.md', 'package.json', ...sources.map((f) => `src/${f}`)].sort());

  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const named = [manifest.main, manifest.types, ...Object.values(manifest.exports).flatMap((e) => [e.types, e.default])];
  for (const path of named) assert.ok(files.includes(path.replace(/^\.\//, '')), `${path} is named in package.json but not packed`);
  assert.ok(Object.values(manifest.exports).every((e) => e.types.endsWith('.d.ts')), 'every export has its types');
});
