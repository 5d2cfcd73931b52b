// The table form of each resource kind, shared by `get` and the commands that print what they
// created. Pure functions of the resources and the current time.

import {
  type ApiToken,
  type Artifact,
  type Deployment,
  type Device,
  type DeviceModule,
  deviceModules,
  type EnrollmentGroup,
  type HubEvent,
} from '@homeostat/protocol';
import { formatAgo, formatDuration, formatLabels, formatTable } from './format.js';

/**
 * "in sync" once the device reports it applied the current desired version (a device that never
 * received a desired state has applied version 0); "pending" until then.
 */
export function syncState(device: Device): string {
  const applied = device.twin.reported.desiredVersion ?? (device.twin.reported.version > 0 ? 0 : null);
  return applied === device.twin.desired.version ? 'in sync' : 'pending';
}

export function deviceTable(devices: readonly Device[], now: number): string {
  return formatTable(
    ['NAME', 'LIVENESS', 'LAST SEEN', 'LABELS', 'DESIRED', 'REPORTED', 'AGE'],
    devices.map((d) => [
      d.metadata.name,
      // A retired device is not expected to be heard from: say so instead of `offline`.
      d.status.lifecycle === 'retired' ? 'retired' : d.status.liveness.state,
      formatAgo(d.status.liveness.lastSeen, now),
      formatLabels(d.metadata.labels),
      String(d.twin.desired.version),
      syncState(d),
      formatDuration(now - d.metadata.createdAt),
    ]),
  );
}

export function groupTable(groups: readonly EnrollmentGroup[], now: number): string {
  return formatTable(
    ['NAME', 'PREFIX', 'ENROLLED', 'EXPIRES', 'LABELS', 'AGE'],
    groups.map((g) => [
      g.metadata.name,
      g.spec.namePrefix || '<none>',
      g.spec.maxDevices === null ? String(g.status.enrolled) : `${g.status.enrolled}/${g.spec.maxDevices}`,
      formatExpiry(g.spec.expiresAt, now),
      formatLabels(g.spec.template.labels),
      formatDuration(now - g.metadata.createdAt),
    ]),
  );
}

export function formatExpiry(expiresAt: number | null, now: number): string {
  if (expiresAt === null) return 'never';
  return expiresAt <= now ? `expired ${formatDuration(now - expiresAt)} ago` : `in ${formatDuration(expiresAt - now)}`;
}

export function eventTable(events: readonly HubEvent[], now: number): string {
  return formatTable(
    ['ID', 'AGE', 'DEVICE', 'SOURCE', 'TYPE', 'SEVERITY', 'CODE', 'MESSAGE'],
    events.map((e) => [
      String(e.id),
      formatDuration(now - e.ts),
      e.device ?? '-',
      e.source,
      e.type,
      e.severity,
      e.code ?? '-',
      e.message,
    ]),
  );
}

export function tokenTable(tokens: readonly ApiToken[], now: number): string {
  return formatTable(
    ['NAME', 'ROLE', 'AGE'],
    tokens.map((t) => [t.name, t.role, formatDuration(now - t.createdAt)]),
  );
}

export function deploymentTable(deployments: readonly Deployment[], now: number): string {
  return formatTable(
    ['NAME', 'SELECTOR', 'PRIORITY', 'MODULES', 'TARGETED', 'APPLIED', 'FAILING', 'AGE'],
    deployments.map((d) => [
      d.metadata.name,
      d.spec.selector || '<all>',
      String(d.spec.priority),
      d.spec.modules.map((m) => m.name).join(','),
      String(d.status.targeted),
      String(d.status.applied),
      String(d.status.failing),
      formatDuration(now - d.metadata.createdAt),
    ]),
  );
}

/** A rev as people compare them: its first 8 hex digits. */
export function shortRev(rev: string | null | undefined): string {
  return rev === null || rev === undefined ? '-' : rev.slice(0, 8);
}

/** The modules of devices, desired and reported, one row per device and module. */
export function moduleTable(rows: readonly { device: string; module: DeviceModule }[], now: number): string {
  return formatTable(
    ['DEVICE', 'MODULE', 'KIND', 'DEPLOYMENT', 'DESIRED', 'REPORTED', 'STATE', 'RESTARTS', 'SINCE', 'STATUS'],
    rows.map(({ device, module: m }) => [
      device,
      m.name,
      m.kind,
      m.deployment ?? '-',
      shortRev(m.desiredRev),
      shortRev(m.reported?.rev),
      m.reported?.state ?? '-',
      m.reported ? String(m.reported.restarts) : '-',
      m.reported ? formatDuration(now - m.reported.since) : '-',
      m.condition,
    ]),
  );
}

/** The module rows of devices, from their twins (the same reading the hub makes). */
export function moduleRows(devices: readonly Device[]): { device: string; module: DeviceModule }[] {
  return devices.flatMap((d) =>
    deviceModules(d.twin.desired.state, d.twin.reported.state).map((module) => ({ device: d.metadata.name, module })),
  );
}

export function artifactTable(artifacts: readonly Artifact[], now: number): string {
  return formatTable(
    ['NAME', 'VERSION', 'TARGETS', 'SIZE', 'SHA256', 'SIGNED BY', 'EXPIRES', 'PUSHED'],
    artifacts.map((a) => {
      const m = a.manifest.signed;
      const expires = m.expiresAt <= now ? 'expired' : `in ${formatDuration(m.expiresAt - now)}`;
      return [
        a.name,
        a.version,
        m.targetModels.join(','),
        String(m.size),
        m.sha256.slice(0, 12),
        a.manifest.signatures.map((s) => s.keyId).join(','),
        expires,
        formatAgo(a.pushedAt, now),
      ];
    }),
  );
}
