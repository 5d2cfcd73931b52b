// The autonomic manager from the CLI against a real hub: apply a Policy (checked before it is
// sent, refused by the hub with every reason), list decisions, explain one and a device in plain
// language, approve, and see what each degree did with `homeostat autonomy`.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Decision } from '@homeostat/protocol';
import { E2eHub, tempDir } from './harness.js';

const policyYaml = (name: string, scope: string, extra = '') =>
  [
    'apiVersion: homeostat/v1',
    'kind: Policy',
    `metadata: {name: ${name}}`,
    'spec:',
    '  property: self-healing',
    `  scope: ${scope}`,
    '  trigger: {kind: event, type: alarm, code: BEARING_WEAR}',
    '  analysis: {symptom: bearing-wear}',
    '  plan:',
    '    - {action: patch-desired, patch: {speed: 0.5}}',
    extra,
    '',
  ].join('\n');

describe('cli: the autonomic manager', () => {
  const hub = new E2eHub();
  const home = tempDir('home');
  const cli = hub.adminCli(home);
  before(() => hub.start());
  after(() => hub.close());

  test('apply -f creates a Policy; a bad one is refused with every reason, by the CLI or by the hub', async () => {
    const good = join(home, 'policy.yaml');
    writeFileSync(good, policyYaml('pump-slow-down', '{selector: model=pm-400}'));
    const created = await cli('apply', '-f', good);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /policy\/pump-slow-down created/);
    assert.match((await cli('apply', '-f', good)).stdout, /policy\/pump-slow-down configured/);

    const malformed = join(home, 'malformed.yaml');
    writeFileSync(malformed, policyYaml('broken', 'fleet').replace('patch-desired', 'reboot-everything'));
    const local = await cli('apply', '-f', malformed);
    assert.equal(local.code, 1);
    assert.match(local.stderr, /doc 1: \/spec\/plan\/0\/action: /);

    const wholeFleet = join(home, 'fleet.yaml');
    writeFileSync(wholeFleet, policyYaml('everyone', 'fleet'));
    const refused = await cli('apply', '-f', wholeFleet);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /policy\/everyone: ERR_POLICY_INVALID: policy everyone refused \(1 problem\); nothing was stored/,
    );
    assert.match(refused.stderr, /\/spec\/rateLimit: the scope covers the whole fleet/);
  });

  test('apply -f refuses a policy that would trigger itself, and one that would ping-pong with a stored one', async () => {
    const command = (name: string, scope: string, to: string) =>
      policyYaml(name, `{selector: model=${scope}}`)
        .replace(
          '{kind: event, type: alarm, code: BEARING_WEAR}',
          '{kind: event, type: command-result, code: ERR_BUSY}',
        )
        .replace(
          '{action: patch-desired, patch: {speed: 0.5}}',
          `{action: send-command, command: sync, target: ${to}}`,
        );
    const self = join(home, 'self.yaml');
    writeFileSync(self, command('retry-sync', 'pm-400', 'device'));
    const looped = await cli('apply', '-f', self);
    assert.equal(looped.code, 1);
    assert.match(
      looped.stderr,
      /policy\/retry-sync: ERR_POLICY_SELF_LOOP: policy retry-sync refused: it would trigger itself/,
    );

    const first = join(home, 'first.yaml');
    writeFileSync(first, command('th-asks-ht', 'th-100', '{sameLabel: room, selector: model=ht-200}'));
    assert.equal((await cli('apply', '-f', first)).code, 0);
    const second = join(home, 'second.yaml');
    writeFileSync(second, command('ht-asks-th', 'ht-200', '{sameLabel: room, selector: model=th-100}'));
    const pingPong = await cli('apply', '-f', second);
    assert.equal(pingPong.code, 1);
    assert.match(
      pingPong.stderr,
      /policy\/ht-asks-th: ERR_POLICY_PING_PONG: policy ht-asks-th refused: it and th-asks-ht/,
    );
    assert.match(pingPong.stderr, /th-asks-ht \/spec\/plan\/0 \(send-command\)/);
  });

  test('decisions, explain, approve and autonomy', async () => {
    await hub.createDevice('pump-9', { model: 'pm-400', site: 'plant' });
    const now = Date.now();
    const decision: Decision = {
      apiVersion: 'homeostat/v1',
      kind: 'Decision',
      id: 'dec-00000000abcd',
      policy: 'pump-slow-down',
      property: 'self-healing',
      devices: ['pump-9'],
      createdAt: now - 60_000,
      updatedAt: now - 60_000,
      trigger: {
        kind: 'event',
        device: 'pump-9',
        at: now - 60_000,
        summary: 'pump-9 reported alarm BEARING_WEAR',
        evidence: {},
      },
      analysis: { symptom: 'bearing-wear', summary: 'the bearing wears' },
      degree: 'approve',
      degreeSource: 'autonomy rule for fleet',
      state: 'awaiting-approval',
      approval: { deadline: now + 600_000, default: 'reject', by: null, at: null, reason: null },
      hold: null,
      actions: [
        {
          action: 'patch-desired',
          device: 'pump-9',
          params: { patch: { speed: 0.5 } },
          state: 'planned',
          result: null,
          startedAt: null,
          finishedAt: null,
        },
        {
          action: 'open-incident',
          device: 'pump-9',
          params: {},
          state: 'planned',
          result: null,
          startedAt: null,
          finishedAt: null,
        },
      ],
      verification: null,
      incident: null,
      history: [{ at: now - 60_000, state: 'awaiting-approval', note: 'waits for a person' }],
      explanation: 'waiting',
    };
    await hub.hub?.services.store.saveDecision(decision);

    const list = await cli('decisions');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+POLICY\s+PROPERTY\s+DEVICES\s+DEGREE\s+STATE\s+AGE\n/);
    assert.match(
      list.stdout,
      /dec-00000000abcd\s+pump-slow-down\s+self-healing\s+pump-9\s+approve\s+awaiting-approval\s+1m/,
    );
    assert.match((await cli('decisions', '--state', 'verified')).stdout, /^no decisions\n$/);

    const approved = await cli('decisions', 'approve', 'dec-00000000abcd', '--reason', 'bearing on order');
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /^decision\/dec-00000000abcd succeeded\n/);
    assert.match(
      approved.stdout,
      /set the desired state of pump-9: \{"speed":0.5\}: done at .*: desired version 1 sent/,
    );
    assert.match(approved.stdout, /Approved by admin \(bearing on order\)|Every action was carried out/);
    const again = await cli('decisions', 'approve', 'dec-00000000abcd');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /ERR_DECISION_STATE/);

    const explained = await cli('explain', 'decision', 'dec-00000000abcd');
    assert.equal(explained.code, 0, explained.stderr);
    assert.match(
      explained.stdout,
      /^Decision dec-00000000abcd \(self-healing\) by policy pump-slow-down, about pump-9\./,
    );
    assert.match(explained.stdout, /What happened: at .*, pump-9 reported alarm BEARING_WEAR\./);
    assert.match(
      explained.stdout,
      /History:\n.*awaiting-approval: waits for a person\n.*approved: approved by admin: bearing on order/,
    );

    const device = await cli('explain', 'device', 'pump-9');
    assert.equal(device.code, 0, device.stderr);
    assert.match(
      device.stdout,
      /^pump-9: 1 decision, the newest first\.\nOpen: inc-[0-9a-f]{12} \(incident, warning\)/,
    );
    assert.match((await cli('explain', 'device', 'pump-10')).stdout, /decided nothing about pump-10/);

    const autonomy = await cli('autonomy');
    assert.equal(autonomy.code, 0, autonomy.stderr);
    assert.match(autonomy.stdout, /self-protection\s+act\s+default for safe actions/);
    assert.match(autonomy.stdout, /No rules: destructive actions/);
    assert.match(autonomy.stdout, /self-healing\s+approve\s+1\s+1\s+0\s+0\s+0/);
  });
});
