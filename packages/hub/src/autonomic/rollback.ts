// The `rollback-module` action: on one device, a module goes back to what it ran before the last
// change of its deployments, read from the device's `deployment` events (the deployment
// controller records each change with the entry it replaced). The entry written back carries
// `rolledBack`, so the controller keeps it while the deployments still name the failing rev, and
// lets it go once they name another (a fix). Other devices keep the change.

import {
  type Decision,
  type DecisionAction,
  type DesiredModule,
  isHomeostatError,
  isPlainObject,
} from '@homeostat/protocol';
import type { ModuleChange } from '../model/deployments.js';
import type { ActionDeps, ActionOutcome } from './execute.js';

/** Deployment events of a device read to find the change to undo. */
const RECENT_CHANGES = 200;

export async function rollbackModule(
  deps: ActionDeps,
  decision: Decision,
  action: DecisionAction,
  device: string,
): Promise<ActionOutcome> {
  const module = typeof action.params.module === 'string' ? action.params.module : null;
  if (module === null) return { state: 'failed', result: 'neither the policy nor the trigger names a module' };
  for (let attempt = 0; ; attempt++) {
    const record = await deps.store.getDevice(device);
    if (!record) return { state: 'failed', result: `no device named ${device}` };
    const modules = isPlainObject(record.desired.state.modules)
      ? (record.desired.state.modules as Record<string, DesiredModule>)
      : {};
    const current = modules[module];
    if (!current) return { state: 'skipped', result: `${device} is not asked to run module ${module}` };
    if (current.rolledBack) {
      // Failing again at the version it went back to: going further back is for a person.
      return {
        state: 'failed',
        result: `${module} on ${device} was rolled back already (from rev ${current.rolledBack.from}, decision ${current.rolledBack.decision}) and fails at rev ${current.rev}`,
      };
    }
    const change = await lastChange(deps, device, module, current.rev);
    if (!change?.from) {
      return {
        state: 'skipped',
        result: change
          ? `${module} came to ${device} new at rev ${current.rev}: no earlier version to go back to`
          : `no change of ${module} to rev ${current.rev} recorded on ${device}: nothing to roll back to`,
      };
    }
    const { rolledBack: _, ...earlier } = change.from;
    const now = deps.clock.now();
    const back: DesiredModule = { ...earlier, rolledBack: { from: current.rev, decision: decision.id, at: now } };
    try {
      await deps.devices.setDesiredKey(device, record.desired.version, 'modules', { ...modules, [module]: back });
    } catch (err) {
      if (attempt > 0 || !isHomeostatError(err) || err.code !== 'ERR_TWIN_VERSION_CONFLICT') throw err;
      continue;
    }
    const version = record.desired.version + 1;
    const changes: ModuleChange[] = [{ module, from: current, to: { rev: back.rev, deployment: back.deployment } }];
    deps.events.record({
      device,
      type: 'deployment',
      code: null,
      severity: 'warning',
      message: `${module} on ${device} rolled back from rev ${current.rev} to ${back.rev} by decision ${decision.id}`,
      data: { changes, decision: decision.id },
    });
    return {
      state: 'done',
      result: `${module} rolled back on ${device} from rev ${current.rev} (${current.deployment}) to rev ${back.rev} (${back.deployment}), desired version ${version}; the deployments keep rev ${current.rev} elsewhere`,
      params: { version, from: current.rev, to: back.rev },
    };
  }
}

/** The newest recorded change of `module` on `device` that brought it to `rev`. */
async function lastChange(
  deps: ActionDeps,
  device: string,
  module: string,
  rev: string,
): Promise<ModuleChange | undefined> {
  const events = await deps.store.listEvents({ device, type: 'deployment', limit: RECENT_CHANGES });
  let found: { id: number; change: ModuleChange } | undefined;
  for (const e of events) {
    if (e.source !== 'hub' || !Array.isArray(e.data.changes)) continue;
    for (const c of e.data.changes as ModuleChange[]) {
      if (c.module === module && c.to?.rev === rev && (found === undefined || e.id > found.id))
        found = { id: e.id, change: c };
    }
  }
  return found?.change;
}
