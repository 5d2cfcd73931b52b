#!/usr/bin/env node
// The dependency rule of docs/architecture.md: protocol and kit depend on nothing internal;
// hub and agent on protocol and kit only (never on each other); sim adds agent; testing adds
// nothing runtime; cli's fleet commands use protocol, and only its `run` commands load the
// hub, agent and simulator.

import { readFileSync } from 'node:fs';

const allowed = {
  protocol: [],
  kit: [],
  testing: ['kit', 'protocol'],
  hub: ['kit', 'protocol'],
  agent: ['kit', 'protocol'],
  sim: ['agent', 'kit', 'protocol'],
  cli: ['protocol', 'kit', 'hub', 'agent', 'sim'],
};
let failed = false;
for (const [pkg, ok] of Object.entries(allowed)) {
  const manifest = JSON.parse(readFileSync(new URL(`../packages/${pkg}/package.json`, import.meta.url), 'utf8'));
  for (const dep of Object.keys(manifest.dependencies ?? {})) {
    if (!dep.startsWith('@homeostat/')) continue;
    const name = dep.slice('@homeostat/'.length);
    if (!ok.includes(name)) {
      console.error(`packages/${pkg}: may not depend on ${dep}`);
      failed = true;
    }
  }
}
if (failed) process.exit(1);
console.log('dependency rule: ok');
