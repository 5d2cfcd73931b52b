// `homeostat apply -f FILE`: makes the hub match a manifest of Device, EnrollmentGroup, Deployment
// and Policy documents with one PUT each. Nothing is sent unless every document is valid; a
// resource the hub refuses is reported and the rest still applied, and the exit code then says 1.
// A dry run prints the requests; for a Deployment it asks the hub which devices would change.

import { type DeploymentDryRun, type DeviceModuleDiff, type RolloutDryRun, routes } from '@homeostat/protocol';
import type { Command } from 'commander';
import type { HubClient } from '../client.js';
import { contextOf, outputOption } from '../context.js';
import { ApiError, CliError, formatError } from '../errors.js';
import { indent, printOutput, toYaml } from '../format.js';
import type { CliIo } from '../io.js';
import { type ApplyItem, parseManifests, refOf } from '../manifest.js';
import { tokenWarning } from './devices.js';
import { describeRolloutDryRun } from './rollout.js';

interface Applied {
  ref: string;
  action: 'created' | 'configured';
  resource: unknown;
  token?: string;
  claimToken?: string;
}

export function registerApply(program: Command, io: CliIo): void {
  program
    .command('apply')
    .description(
      'create or update the Devices, EnrollmentGroups, Deployments, Policies and Rollouts of a manifest (YAML or JSON)',
    )
    .requiredOption('-f, --filename <file>', 'manifest file, or - for standard input')
    .option(
      '--dry-run',
      'check the manifest and print the requests without applying them (Deployments: which devices would change, asked of the hub)',
    )
    .addOption(outputOption())
    .action(async (opts: { filename: string; dryRun?: boolean }, command: Command) => {
      const ctx = contextOf(io, command);
      const source = opts.filename === '-' ? 'standard input' : opts.filename;
      const text = await readSource(io, opts.filename);
      const parsed = parseManifests(text);
      if (!parsed.ok) {
        throw new CliError(
          `${source} is invalid (${count(parsed.problems.length, 'problem')}); nothing was applied`,
          parsed.problems,
        );
      }
      if (opts.dryRun) {
        // Only a Deployment's effect needs the hub: the rest is checked and printed offline.
        const client = parsed.items.some((i) => i.kind === 'Deployment' || i.kind === 'Rollout')
          ? await ctx.client()
          : null;
        const plan: DryRunStep[] = [];
        for (const item of parsed.items) {
          const step: DryRunStep = { ref: refOf(item), method: 'PUT', path: pathOf(item), body: item.request };
          if (client !== null && item.kind === 'Deployment') {
            step.effect = await client.dryRunDeployment(item.name, item.request);
          }
          if (client !== null && item.kind === 'Rollout')
            step.rollout = await client.dryRunRollout(item.name, item.request);
          plan.push(step);
        }
        printOutput(io, ctx.output, { items: plan }, () => plan.map(describeStep).join(''));
        return;
      }
      const client = await ctx.client();
      const applied: Applied[] = [];
      let failed = 0;
      for (const item of parsed.items) {
        let result: Applied;
        try {
          result = await applyOne(client, item);
        } catch (err) {
          // A refusal concerns one document; an unreachable hub concerns them all.
          if (!(err instanceof ApiError)) throw err;
          failed++;
          io.stderr(formatError(new CliError(`${refOf(item)}: ${err.message}`, err.details)));
          continue;
        }
        applied.push(result);
        if (ctx.output === 'table') io.stdout(describeApplied(result));
        if (result.token !== undefined)
          io.stderr(tokenWarning(result.ref, `homeostat devices rotate-token ${item.name}`));
        if (result.claimToken !== undefined) {
          io.stderr(`warning: the claim token of ${result.ref} is shown only this once; store it now\n`);
        }
      }
      if (ctx.output !== 'table') printOutput(io, ctx.output, { items: applied }, () => '');
      if (failed > 0) throw new CliError(`${failed} of ${count(parsed.items.length, 'resource')} could not be applied`);
    });
}

async function readSource(io: CliIo, filename: string): Promise<string> {
  try {
    return filename === '-' ? await io.readStdin() : await io.readFile(filename);
  } catch (err) {
    throw new CliError(`cannot read ${filename} (${(err as Error).message})`);
  }
}

interface DryRunStep {
  ref: string;
  method: 'PUT';
  path: string;
  body: unknown;
  /** Deployments: the hub's answer to the dry run. */
  effect?: DeploymentDryRun;
  /** Rollouts: the waves and their devices, as the hub plans them. */
  rollout?: RolloutDryRun;
}

function pathOf(item: ApplyItem): string {
  switch (item.kind) {
    case 'Device':
      return routes.device(item.name);
    case 'EnrollmentGroup':
      return routes.enrollmentGroup(item.name);
    case 'Deployment':
      return routes.deployment(item.name);
    case 'Policy':
      return routes.policy(item.name);
    case 'Rollout':
      return routes.rollout(item.name);
  }
}

function describeStep(step: DryRunStep): string {
  if (step.rollout !== undefined) return describeRolloutDryRun(step.ref, step.rollout);
  if (step.effect === undefined) {
    return `${step.ref} would be applied (dry run): ${step.method} ${step.path}\n${indent(toYaml(step.body))}\n`;
  }
  const { effect } = step;
  const verb = effect.created ? 'created' : 'configured';
  const n = effect.devices.length;
  const head = `${step.ref} would be ${verb} (dry run): ${n === 0 ? 'no device would change' : `${count(n, 'device')} would change`}\n`;
  return head + effect.devices.map(describeDeviceDiff).join('');
}

const TARGETING = { start: ' (starts being targeted)', stop: ' (stops being targeted)', stay: '' } as const;

/** `+` added, `-` removed, `~` changed, with short revs and the deployment each comes from. */
export function describeDeviceDiff(d: DeviceModuleDiff): string {
  const short = (rev: string) => rev.slice(0, 8);
  const lines = [
    ...d.added.map((m) => `+ ${m.name}  rev ${short(m.rev)} from ${m.deployment}`),
    ...d.removed.map((m) => `- ${m.name}  rev ${short(m.rev)} from ${m.deployment}`),
    ...d.changed.map((c) => {
      const from = c.from.deployment === c.to.deployment ? '' : ` (from ${c.from.deployment} to ${c.to.deployment})`;
      return `~ ${c.name}  rev ${short(c.from.rev)} -> ${short(c.to.rev)}${from}`;
    }),
  ];
  if (lines.length === 0) lines.push('no module changes');
  return `  device/${d.name}${TARGETING[d.targeting]}\n${lines.map((l) => `    ${l}\n`).join('')}`;
}

async function applyOne(client: HubClient, item: ApplyItem): Promise<Applied> {
  const ref = refOf(item);
  if (item.kind === 'Deployment') {
    const r = await client.putDeployment(item.name, item.request);
    return { ref, action: r.created ? 'created' : 'configured', resource: r.deployment };
  }
  if (item.kind === 'Policy') {
    const r = await client.putPolicy(item.name, item.request);
    return { ref, action: r.created ? 'created' : 'configured', resource: r.policy };
  }
  if (item.kind === 'Rollout') {
    const r = await client.putRollout(item.name, item.request);
    return { ref, action: r.created ? 'created' : 'configured', resource: r.rollout };
  }
  if (item.kind === 'Device') {
    const r = await client.putDevice(item.name, item.request);
    return r.created
      ? { ref, action: 'created', resource: r.device, token: r.token }
      : { ref, action: 'configured', resource: r.device };
  }
  const r = await client.putEnrollmentGroup(item.name, item.request);
  return r.created
    ? { ref, action: 'created', resource: r.group, claimToken: r.claimToken }
    : { ref, action: 'configured', resource: r.group };
}

function describeApplied(a: Applied): string {
  let text = `${a.ref} ${a.action}\n`;
  if (a.token !== undefined) text += `  token: ${a.token}\n`;
  if (a.claimToken !== undefined) text += `  claim token: ${a.claimToken}\n`;
  return text;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
