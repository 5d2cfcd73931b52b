// `homeostat describe device|deployment|enrollmentgroup NAME`, `describe incident ID`: everything about one resource, in sections
// a person reads top to bottom; nested states are shown as YAML.

import type { Deployment, Device, EnrollmentGroup } from '@homeostat/protocol';
import type { Command } from 'commander';
import { parseName } from '../args.js';
import { contextOf } from '../context.js';
import { formatAgo, formatInstant, formatLabels, formatTable, indent, toYaml } from '../format.js';
import type { CliIo } from '../io.js';
import { formatExpiry, moduleRows, moduleTable, shortRev, syncState } from '../tables.js';
import { describeIncident, parseIncidentId } from './incidents.js';

export function registerDescribe(program: Command, io: CliIo): void {
  const describe = program.command('describe').description('show one resource in detail');

  describe
    .command('device')
    .aliases(['devices', 'dev'])
    .description('show a device: metadata, liveness with its evidence, twin, capabilities')
    .argument('<name>', 'the device name')
    .action(async (name: string, _opts: unknown, command: Command) => {
      const client = await contextOf(io, command).client();
      io.stdout(describeDevice(await client.getDevice(parseName('device', name)), io.now()));
    });

  describe
    .command('incident')
    .aliases(['incidents', 'workorder', 'work-order'])
    .description('show an incident or work order: devices, decisions, timeline, resolution')
    .argument('<id>', 'the incident id')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const client = await contextOf(io, command).client();
      io.stdout(describeIncident(await client.getIncident(parseIncidentId(id)), io.now()));
    });

  describe
    .command('deployment')
    .aliases(['deployments', 'deploy'])
    .description('show a deployment: selector, priority, modules, status counts and each targeted device')
    .argument('<name>', 'the deployment name')
    .action(async (name: string, _opts: unknown, command: Command) => {
      const client = await contextOf(io, command).client();
      io.stdout(describeDeployment(await client.getDeployment(parseName('deployment', name)), io.now()));
    });

  describe
    .command('enrollmentgroup')
    .aliases(['enrollmentgroups', 'enrollment-group', 'enrollment-groups', 'eg'])
    .description('show an enrollment group: template, limits, enrolled count')
    .argument('<name>', 'the enrollment group name')
    .action(async (name: string, _opts: unknown, command: Command) => {
      const client = await contextOf(io, command).client();
      io.stdout(
        describeEnrollmentGroup(await client.getEnrollmentGroup(parseName('enrollment group', name)), io.now()),
      );
    });
}

/** Aligned `Key:   value` lines. */
function fields(rows: readonly (readonly [string, string])[], pad = 0): string {
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return rows.map(([k, v]) => `${' '.repeat(pad)}${`${k}:`.padEnd(width)}${v}`).join('\n');
}

/** A map as indented YAML, or `<none>` on the heading's own line when it is empty. */
function block(title: string, value: Record<string, unknown>): string {
  return Object.keys(value).length === 0 ? `${title}: <none>` : `${title}:\n${indent(toYaml(value))}`;
}

export function describeDevice(d: Device, now: number): string {
  const { liveness } = d.status;
  const { desired, reported } = d.twin;
  const labels = Object.entries(d.metadata.labels).sort(([a], [b]) => a.localeCompare(b));
  const sections = [
    fields([
      ['Name', d.metadata.name],
      ['UID', d.metadata.uid],
      ['Created', formatInstant(d.metadata.createdAt, now)],
      ['Resource version', String(d.metadata.resourceVersion)],
      [
        'Lifecycle',
        d.status.replacedBy ? `${d.status.lifecycle}, replaced by ${d.status.replacedBy}` : d.status.lifecycle,
      ],
      ['Connected', d.status.connected ? 'yes' : 'no'],
      ['Agent', d.status.agent?.version ?? '<unknown>'],
      ['Enrollment group', d.status.enrollmentGroup ?? '<none>'],
    ]),
    labels.length === 0 ? 'Labels: <none>' : `Labels:\n${labels.map(([k, v]) => `  ${k}=${v}`).join('\n')}`,
    `Liveness:\n${fields(
      [
        ['State', `${liveness.state}${liveness.since === null ? '' : ` since ${formatInstant(liveness.since, now)}`}`],
        ['Last seen', formatAgo(liveness.lastSeen, now)],
        ['Heartbeat', `every ${liveness.heartbeatMs} ms`],
        [
          'Evidence',
          `${liveness.evidence.kind}${liveness.evidence.at === null ? '' : ` at ${formatInstant(liveness.evidence.at, now)}`}`,
        ],
        ['Detail', liveness.evidence.detail || '<none>'],
      ],
      2,
    )}`,
    `Twin:\n${fields(
      [
        ['Desired', `version ${desired.version}, updated ${formatAgo(desired.updatedAt, now)}`],
        [
          'Reported',
          `version ${reported.version}, applied desired ${reported.desiredVersion ?? '<none>'} (${syncState(d)}), updated ${formatAgo(reported.updatedAt, now)}`,
        ],
      ],
      2,
    )}`,
    modulesSection(d, now),
    block('Desired state', withoutModules(desired.state)),
    block('Reported state', withoutModules(reported.state)),
    block('Capabilities', d.status.capabilities),
  ];
  return `${sections.join('\n\n')}\n`;
}

/** The modules side by side; the twins below leave them out so they are not shown twice. */
function modulesSection(d: Device, now: number): string {
  const rows = moduleRows([d]);
  return rows.length === 0 ? 'Modules: <none>' : `Modules:\n${indent(moduleTable(rows, now))}`;
}

function withoutModules(state: Record<string, unknown>): Record<string, unknown> {
  const { modules: _modules, ...rest } = state;
  return rest;
}

export function describeDeployment(dep: Deployment, now: number): string {
  const { spec, status } = dep;
  const devices = status.devices ?? [];
  const sections = [
    fields([
      ['Name', dep.metadata.name],
      ['UID', dep.metadata.uid],
      ['Created', formatInstant(dep.metadata.createdAt, now)],
      ['Resource version', String(dep.metadata.resourceVersion)],
      [
        'Generation',
        `${dep.metadata.generation} (${status.observedGeneration === dep.metadata.generation ? 'written to every device' : `devices have ${status.observedGeneration}`})`,
      ],
      ['Labels', formatLabels(dep.metadata.labels)],
      ['Selector', spec.selector || '<all devices>'],
      ['Priority', String(spec.priority)],
    ]),
    `Modules:\n${indent(
      formatTable(
        ['NAME', 'KIND'],
        spec.modules.map((m) => [m.name, m.kind]),
      ),
    )}`,
    `Status:\n${fields(
      [
        ['Targeted', String(status.targeted)],
        ['Applied', String(status.applied)],
        ['Pending', String(status.pending)],
        ['Failing', String(status.failing)],
        ['Overridden', String(status.overridden)],
      ],
      2,
    )}`,
    devices.length === 0
      ? 'Devices: <none>'
      : `Devices:\n${indent(
          formatTable(
            ['DEVICE', 'STATUS', 'MODULE', 'DESIRED', 'REPORTED', 'STATE'],
            devices.flatMap((d) =>
              d.modules.length === 0
                ? [[d.name, d.state, '-', '-', '-', '-']]
                : d.modules.map((m) => [
                    d.name,
                    d.state,
                    m.name,
                    shortRev(m.rev),
                    shortRev(m.reported?.rev),
                    m.reported?.state ?? '-',
                  ]),
            ),
          ),
        )}`,
  ];
  return `${sections.join('\n\n')}\n`;
}

export function describeEnrollmentGroup(g: EnrollmentGroup, now: number): string {
  const { spec } = g;
  const sections = [
    fields([
      ['Name', g.metadata.name],
      ['UID', g.metadata.uid],
      ['Created', formatInstant(g.metadata.createdAt, now)],
      ['Resource version', String(g.metadata.resourceVersion)],
      ['Name prefix', spec.namePrefix || '<none>'],
      [
        'Enrolled',
        spec.maxDevices === null ? `${g.status.enrolled} (no limit)` : `${g.status.enrolled} of ${spec.maxDevices}`,
      ],
      [
        'Expires',
        spec.expiresAt === null
          ? 'never'
          : `${new Date(spec.expiresAt).toISOString()} (${formatExpiry(spec.expiresAt, now)})`,
      ],
    ]),
    `Template labels: ${formatLabels(spec.template.labels)}`,
    block('Template desired state', spec.template.desired ?? {}),
  ];
  return `${sections.join('\n\n')}\n`;
}
