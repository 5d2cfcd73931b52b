#!/usr/bin/env node
// Runs every compiled test file (packages/*/dist/**/*.test.js) with node:test.
// Arguments narrow the run: `npm test -- hub agent` runs those packages' tests only.

import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'));

function walk(dir, out) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (entry.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const files = [];
for (const pkg of readdirSync(join(root, 'packages')).sort()) {
  if (only.length > 0 && !only.includes(pkg)) continue;
  const dist = join(root, 'packages', pkg, 'dist');
  try {
    walk(dist, files);
  } catch {
    // a package without a build has no tests to run
  }
}
if (files.length === 0) {
  console.error('no test files found: run `npm run build` first');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=120000', ...flags, ...files.sort()],
  { stdio: 'inherit', cwd: root },
);
process.exit(result.status ?? 1);
