#!/usr/bin/env node
// The dependency rule of docs/architecture.md, checked on the manifests and on the imports:
// protocol and kit depend on nothing internal; inference (the model runner both sides share) on
// them; hub and agent on protocol, kit and inference only (never on each other); sim adds agent;
// testing is dev-only; the CLI's fleet commands use protocol and kit, and only its run commands (src/run/) and end-to-end tests (src/e2e/) load hub, agent and sim.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const runtime = {
  protocol: [],
  kit: [],
  testing: ['kit', 'protocol'],
  inference: ['kit', 'protocol'],
  hub: ['kit', 'protocol', 'inference'],
  agent: ['kit', 'protocol', 'inference'],
  sim: ['agent', 'kit', 'protocol', 'inference'],
  cli: ['protocol', 'kit', 'hub', 'agent', 'sim', 'inference'],
};
/** Imports allowed in some folders only, by package: [folder prefix, packages]. */
const narrower = {
  cli: { default: ['protocol', 'kit'], 'src/run/': ['protocol', 'kit', 'hub', 'agent', 'sim', 'inference'] },
};

const problems = [];
for (const [pkg, ok] of Object.entries(runtime)) {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8'));
  for (const dep of Object.keys(manifest.dependencies ?? {})) {
    if (dep.startsWith('@homeostat/') && !ok.includes(dep.slice('@homeostat/'.length))) {
      problems.push(`packages/${pkg}/package.json: may not depend on ${dep}`);
    }
  }
  for (const file of sources(join(root, 'packages', pkg, 'src'))) {
    const rel = relative(join(root, 'packages', pkg), file);
    const isTest =
      rel.endsWith('.test.ts') || rel.includes('/e2e/') || rel.includes('/test/') || rel.includes('test-support');
    const rules = narrower[pkg];
    let allowed = ok;
    if (rules) {
      const folder = Object.keys(rules).find((prefix) => prefix !== 'default' && rel.startsWith(prefix));
      allowed = folder ? rules[folder] : rules.default;
    }
    if (isTest) allowed = [...allowed, ...ok, 'testing'];
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:from|import\(?)\s*'@homeostat\/([a-z]+)/g)) {
      const dep = match[1];
      if (dep !== pkg && !allowed.includes(dep))
        problems.push(`packages/${pkg}/${rel}: may not import @homeostat/${dep}`);
    }
  }
}

function sources(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (entry.endsWith('.ts')) out.push(path);
  }
  return out;
}

if (problems.length > 0) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
console.log('dependency rule: ok');
