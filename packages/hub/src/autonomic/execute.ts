// Execute: one executor per action kind, each through the hub's own services (the desired-state
// patch, token rotation, the lifecycle and the MQTT connection, incidents). Executors are
// level-based where they can be: a desired state already so, or a device already quarantined,
// is reported as such rather than changed again. A failure is a result, never a throw.

import type { Clock } from '@homeostat/kit';
import {
  actsOnHub,
  type Decision,
  type DecisionAction,
  type DecisionActionKind,
  isHomeostatError,
  isPlainObject,
  jsonEqual,
  type Lifecycle,
  topics,
} from '@homeostat/protocol';
import type { EventLog } from '../events.js';
import type { DeviceService } from '../services/devices.js';
import type { Store } from '../store/store.js';
import { handBack, recordHandOver } from './hand-back.js';
import type { HubModes } from './hub-modes.js';
import type { IncidentBook } from './incidents.js';
import { replaceDevice } from './replace.js';
import { rollbackModule } from './rollback.js';

/** What the executors need from the MQTT side. */
export interface ActionChannel {
  disconnect(deviceId: string, forget: boolean): Promise<void>;
  publish(topic: string, payload: string, options: { qos: 0 | 1; retain: boolean }): Promise<void>;
}

export interface ActionDeps {
  store: Store;
  clock: Clock;
  devices: DeviceService;
  channel: ActionChannel;
  events: EventLog;
  incidents: IncidentBook;
  /** The hub's own modes, for the actions of policies of scope hub. */
  hub?: HubModes;
}

export interface ActionOutcome {
  state: 'done' | 'failed' | 'skipped';
  result: string;
  /** Facts the verification needs later, e.g. the desired version written. */
  params?: Record<string, unknown>;
  incident?: string;
}

type Executor = (
  deps: ActionDeps,
  decision: Decision,
  action: DecisionAction,
  device: string,
) => Promise<ActionOutcome>;

/** A command sent by a policy expires after this long unless the policy says otherwise, ms. */
const DEFAULT_COMMAND_EXPIRY_MS = 5 * 60_000;
const DEFAULT_HISTORY_MS = 86_400_000;
/** Keys of the desired state a hand-over does not copy by default: deployments own `modules`. */
const NOT_HANDED_OVER = new Set(['modules']);

const EXECUTORS: Record<DecisionActionKind, Executor> = {
  async 'open-incident'(deps, decision, action) {
    const severity = action.params.severity === 'critical' ? 'critical' : 'warning';
    const title = typeof action.params.title === 'string' ? action.params.title : undefined;
    const { incident, joined } = await deps.incidents.open(decision, severity, title);
    return {
      state: 'done',
      result: joined ? `joined the open incident ${incident.id}` : `opened incident ${incident.id}`,
      incident: incident.id,
    };
  },

  async 'patch-desired'(deps, decision, action, device) {
    const patch = isPlainObject(action.params.patch) ? action.params.patch : {};
    // A peer changed because a device went silent: recorded, to be handed back when it returns.
    const silent = decision.trigger.kind === 'liveness' ? decision.trigger.device : null;
    if (silent === null || silent === device) return patchDesired(deps, device, patch);
    return recordHandOver(deps, decision, action, silent, device, patch, () => patchDesired(deps, device, patch));
  },

  async 'send-command'(deps, decision, action, device) {
    const expiresInMs =
      typeof action.params.expiresInMs === 'number' ? action.params.expiresInMs : DEFAULT_COMMAND_EXPIRY_MS;
    const id = `${decision.id}-${decision.actions.indexOf(action)}`;
    const command = String(action.params.command);
    const payload = {
      id,
      args: isPlainObject(action.params.args) ? action.params.args : {},
      expiresAt: deps.clock.now() + expiresInMs,
    };
    await deps.channel.publish(topics.command(device, command), JSON.stringify(payload), { qos: 1, retain: false });
    return { state: 'done', result: `command ${command} sent (id ${id}); its result comes on command-results` };
  },

  async quarantine(deps, decision, _action, device) {
    const from = await changeLifecycle(deps, device, 'quarantined', `decision ${decision.id}`);
    if (from === null) return { state: 'failed', result: `no device named ${device}` };
    if (from === 'quarantined') return { state: 'done', result: `${device} was quarantined already` };
    return { state: 'done', result: `lifecycle ${from} -> quarantined; connection closed, new ones refused` };
  },

  async 'rotate-credentials'(deps, _decision, _action, device) {
    // The new token is dropped on purpose: whoever holds the old one is locked out, and an
    // operator gives the device a token again (`homeostat devices rotate-token`) once it is clean.
    await deps.devices.rotateToken(device);
    return {
      state: 'done',
      result: 'token rotated and not kept: the old one no longer works; rotate it again to re-admit the device',
    };
  },

  async 'work-order'(deps, decision, action, device) {
    const historyMs = typeof action.params.historyMs === 'number' ? action.params.historyMs : DEFAULT_HISTORY_MS;
    const title = typeof action.params.title === 'string' ? action.params.title : undefined;
    const order = await deps.incidents.workOrder(decision, device, historyMs, title);
    const events = Array.isArray(order.history?.events) ? order.history.events.length : 0;
    return { state: 'done', result: `work order ${order.id} written with ${events} events of history` };
  },

  async 'hand-over'(deps, decision, action, device) {
    const from = String(action.params.from);
    const source = await deps.store.getDevice(from);
    if (!source) return { state: 'failed', result: `no device named ${from}` };
    const keys = Array.isArray(action.params.keys)
      ? action.params.keys.map(String)
      : Object.keys(source.desired.state).filter((k) => !NOT_HANDED_OVER.has(k));
    const duty = Object.fromEntries(
      keys.filter((k) => k in source.desired.state).map((k) => [k, source.desired.state[k]]),
    );
    if (Object.keys(duty).length === 0)
      return { state: 'skipped', result: `${from} has no desired state to hand over` };
    const outcome = await recordHandOver(deps, decision, action, from, device, duty, () =>
      patchDesired(deps, device, duty),
    );
    return {
      ...outcome,
      result: `duties of ${from} (${Object.keys(duty).join(', ')}) handed to ${device}: ${outcome.result}`,
    };
  },

  'tighten-retention': onHub,
  backpressure: onHub,
  'shed-work': onHub,
  'hand-back': (deps, decision, action, device) => handBack(deps, decision, action, device, patchDesired),

  'replace-device': (deps, decision, action) => replaceDevice(deps, decision, action),

  'rollback-module': rollbackModule,
};

/** A hub action, or its undo (`params.undo`): through the hub's modes. */
async function onHub(deps: ActionDeps, decision: Decision, action: DecisionAction): Promise<ActionOutcome> {
  if (!deps.hub) return { state: 'failed', result: 'this hub does not run its own loop' };
  const result =
    action.params.undo === true
      ? await deps.hub.release(decision.id, action)
      : await deps.hub.apply(decision.id, action);
  return { state: 'done', result };
}

/**
 * Sets a device's lifecycle and returns the one it had (null: no such device). A quarantined or
 * retired device's connection is closed and its cached credentials dropped: it cannot come back.
 */
export async function changeLifecycle(
  deps: Pick<ActionDeps, 'store' | 'channel' | 'events'>,
  device: string,
  lifecycle: Lifecycle,
  by: string,
): Promise<Lifecycle | null> {
  const record = await deps.store.getDevice(device);
  if (!record) return null;
  if (record.lifecycle === lifecycle) return lifecycle;
  await deps.store.setDeviceLifecycle(device, lifecycle);
  if (lifecycle === 'quarantined' || lifecycle === 'retired') await deps.channel.disconnect(device, false);
  deps.events.record({
    device,
    type: 'lifecycle',
    code: null,
    severity: lifecycle === 'quarantined' ? 'warning' : 'info',
    message: `${device}: lifecycle ${record.lifecycle} -> ${lifecycle} by ${by}`,
    data: { from: record.lifecycle, to: lifecycle, by },
  });
  return record.lifecycle;
}

/** Runs one action and returns it with its outcome and times. */
export async function runAction(
  deps: ActionDeps,
  decision: Decision,
  action: DecisionAction,
): Promise<{ action: DecisionAction; incident?: string }> {
  const startedAt = deps.clock.now();
  let outcome: ActionOutcome;
  if (action.device === null && action.action !== 'open-incident' && !actsOnHub(action.action)) {
    outcome = { state: 'skipped', result: action.result ?? 'no device to act on' };
  } else {
    try {
      outcome = await EXECUTORS[action.action](deps, decision, action, action.device ?? '');
    } catch (err) {
      outcome = { state: 'failed', result: isHomeostatError(err) ? `${err.code}: ${err.message}` : String(err) };
    }
  }
  return {
    action: {
      ...action,
      params: { ...action.params, ...outcome.params },
      state: outcome.state,
      result: outcome.result,
      startedAt,
      finishedAt: deps.clock.now(),
    },
    ...(outcome.incident !== undefined ? { incident: outcome.incident } : {}),
  };
}

/** Merge-patches the desired state unless it is so already; retries once on a concurrent change. */
export async function patchDesired(
  deps: ActionDeps,
  device: string,
  patch: Record<string, unknown>,
): Promise<ActionOutcome> {
  for (let attempt = 0; ; attempt++) {
    const record = await deps.store.getDevice(device);
    if (!record) return { state: 'failed', result: `no device named ${device}` };
    const { version, state } = record.desired;
    if (Object.entries(patch).every(([k, v]) => jsonEqual(state[k], v))) {
      return { state: 'done', result: `already so at desired version ${version}`, params: { version } };
    }
    try {
      const updated = await deps.devices.patchDesired(device, version, patch);
      const written = updated.twin.desired.version;
      return {
        state: 'done',
        result: `desired version ${written} sent: ${JSON.stringify(patch)}`,
        params: { version: written },
      };
    } catch (err) {
      if (attempt > 0 || !isHomeostatError(err) || err.code !== 'ERR_TWIN_VERSION_CONFLICT') throw err;
    }
  }
}
