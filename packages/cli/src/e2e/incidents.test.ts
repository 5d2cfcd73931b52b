// Incidents, post-mortems and device replacement from the CLI against a real hub: an approved
// decision opens an incident; `get incidents`, `describe incident`, `incidents resolve --note`,
// `incidents postmortem` (Markdown and JSON); `devices replace OLD --with NEW` (dry run,
// refusals, the real thing), then `get devices` with and without `--all`, `describe device` and
// `explain device` on the retired device.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Decision } from '@homeostat/protocol';
import { E2eHub, tempDir } from './harness.js';

describe('cli: incidents, post-mortems and replacement', () => {
  const hub = new E2eHub();
  const home = tempDir('home');
  const cli = hub.adminCli(home);
  before(() => hub.start());
  after(() => hub.close());

  test('an incident is listed, described, resolved with a note, and its post-mortem printed', async () => {
    await hub.createDevice('pump-5', { model: 'pm-400' });
    const now = Date.now();
    const planned = { state: 'planned' as const, result: null, startedAt: null, finishedAt: null };
    const decision: Decision = {
      apiVersion: 'homeostat/v1',
      kind: 'Decision',
      id: 'dec-0000000000a1',
      policy: 'pump-slow-down',
      property: 'self-healing',
      devices: ['pump-5'],
      createdAt: now - 30_000,
      updatedAt: now - 30_000,
      trigger: {
        kind: 'event',
        device: 'pump-5',
        at: now - 30_000,
        summary: 'pump-5 reported alarm BEARING_WEAR',
        evidence: {},
      },
      analysis: { symptom: 'bearing-wear', summary: 'the bearing wears' },
      degree: 'approve',
      degreeSource: 'autonomy rule for fleet',
      state: 'awaiting-approval',
      approval: { deadline: now + 600_000, default: 'reject', by: null, at: null, reason: null },
      hold: null,
      actions: [
        { action: 'patch-desired', device: 'pump-5', params: { patch: { speed: 0.5 } }, ...planned },
        { action: 'open-incident', device: 'pump-5', params: {}, ...planned },
      ],
      verification: null,
      incident: null,
      history: [],
      explanation: 'waiting',
    };
    await hub.hub?.services.store.saveDecision(decision);
    assert.equal((await cli('decisions', 'approve', decision.id)).code, 0);

    const list = await cli('get', 'incidents', '--state', 'open');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+TYPE\s+SEVERITY\s+STATE\s+DEVICES\s+TITLE\s+AGE\n/);
    const id = /(inc-[0-9a-f]{12})\s+incident\s+warning\s+open\s+pump-5\s+bearing-wear on pump-5/.exec(
      list.stdout,
    )?.[1];
    assert.ok(id, list.stdout);
    assert.match((await cli('incidents', '--state', 'resolved')).stdout, /^no incidents\n$/);

    const described = await cli('describe', 'incident', id);
    assert.equal(described.code, 0, described.stderr);
    assert.match(described.stdout, /State:\s+open\n/);
    assert.match(described.stdout, /Decisions:\s+dec-0000000000a1\n/);
    assert.match(described.stdout, /Timeline:\n.*dec-0000000000a1: pump-5 reported alarm BEARING_WEAR/);

    const early = await cli('incidents', 'postmortem', id);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /ERR_POSTMORTEM_NOT_FOUND: incident .* has no post-mortem: it is still open/);
    assert.equal((await cli('incidents', 'resolve', id)).code, 2);
    assert.equal((await cli('incidents', 'resolve', 'inc-nope', '--note', 'x')).code, 2);

    const resolved = await cli('incidents', 'resolve', id, '--note', 'bearing replaced on site');
    assert.equal(resolved.code, 0, resolved.stderr);
    assert.match(
      resolved.stdout,
      new RegExp(`^incident/${id} resolved; its post-mortem: homeostat incidents postmortem ${id}`),
    );
    const twice = await cli('incidents', 'resolve', id, '--note', 'again');
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /ERR_INCIDENT_STATE/);
    assert.match((await cli('describe', 'incident', id)).stdout, /Resolution:\s+by admin: bearing replaced on site/);

    const md = await cli('incidents', 'postmortem', id);
    assert.equal(md.code, 0, md.stderr);
    assert.match(md.stdout, /^# Post-mortem: bearing-wear on pump-5\n/);
    assert.match(md.stdout, /a person approved the plan/);
    assert.match(md.stdout, /set the desired state of pump-5: \{"speed":0.5\}: done/);
    assert.match(md.stdout, /Resolved by a person: bearing replaced on site/);
    assert.doesNotMatch(md.stdout, /admin/);
    const json = await cli('incidents', 'postmortem', id, '-o', 'json');
    const pm = JSON.parse(json.stdout);
    assert.equal(pm.kind, 'PostMortem');
    assert.equal(pm.figures.timeToDetectMs, 0);
    assert.equal(pm.resolution.by, 'a person');
  });

  test('devices replace: dry run, refusals, the replacement, and the retired device kept in view', async () => {
    await hub.api('POST', '/api/v1/devices', {
      name: 'th-a',
      labels: { room: 'r1', slot: 'r1-thermostat' },
      desired: { setpoint: 20 },
    });
    await hub.createDevice('th-b');
    await hub.createDevice('th-c', { slot: 'r2-thermostat' });

    const dry = await cli('devices', 'replace', 'th-a', '--with', 'th-b', '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^device\/th-a would be replaced by th-b \(dry run: nothing changed\)/);
    assert.match(dry.stdout, /Desired keys:\s+setpoint \(modules come from deployments\)/);
    const busy = await cli('devices', 'replace', 'th-a', '--with', 'th-c');
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /ERR_REPLACE_IN_SERVICE: th-c is in service in slot r2-thermostat, not r1-thermostat/);
    assert.match((await cli('devices', 'replace', 'th-a', '--with', 'th-a')).stderr, /ERR_REPLACE_SELF/);
    assert.equal((await cli('devices', 'replace', 'th-a')).code, 2);

    const done = await cli('devices', 'replace', 'th-a', '--with', 'th-b');
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /^device\/th-a replaced by th-b\n/);
    assert.match(done.stdout, /Decision dec-[0-9a-f]{12} \(self-configuration\) by policy hub-device-replacement/);
    assert.match((await cli('devices', 'replace', 'th-a', '--with', 'th-b')).stderr, /ERR_DEVICE_RETIRED/);

    const listed = await cli('get', 'devices');
    assert.doesNotMatch(listed.stdout, /^th-a\s/m);
    assert.match(listed.stdout, /^th-b\s+\S+\s+.*room=r1,slot=r1-thermostat/m);
    assert.match((await cli('get', 'devices', '--all')).stdout, /^th-a\s+retired\s/m);
    assert.match((await cli('describe', 'device', 'th-a')).stdout, /Lifecycle:\s+retired, replaced by th-b\n/);
    const explained = await cli('explain', 'device', 'th-a');
    assert.equal(explained.code, 0, explained.stderr);
    assert.match(explained.stdout, /What happened: at .*, a person asked to replace th-a with th-b\./);
  });
});
