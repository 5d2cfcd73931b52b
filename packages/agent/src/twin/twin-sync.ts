// Twin synchronisation on the device: applies the hub's desired state to the hardware and reports
// what the device runs. The applied desired version, the reported state and the reported
// version are kept in the outbox's meta, so they survive restarts with the readings.
//
// Reported state is published directly, not through the outbox: it is level-based. Every
// (re)connect sends the whole state with a new version, which repairs any patch lost with a
// connection, and a queued old patch would only be superseded (the hub ignores versions not above
// the stored one). Readings are history, each one matters: those go through the outbox.
//
// Most of the reported state is what the hardware returns; a few keys are the agent's own (e.g.
// `outbox`, what it dropped). Those are kept apart and laid over the hardware's state, so applying
// a desired state, which replaces the hardware's part, does not erase them.

import type { Clock, Logger } from '@homeostat/kit';
import { type JsonObject, parseJson, parser, TwinDesiredMessage, type TwinReportedMessage } from '@homeostat/protocol';
import type { DeviceHardware } from '../device/hardware.js';
import type { Outbox } from '../outbox/outbox.js';
import { diffMergePatch } from './merge-diff.js';

const KEY_DESIRED_VERSION = 'twin.desiredVersion';
const KEY_REPORTED_VERSION = 'twin.reportedVersion';
const KEY_REPORTED_STATE = 'twin.reported';
const KEY_DESIRED_STATE = 'twin.desired';
const KEY_AGENT_STATE = 'twin.agentReported';

export interface TwinSyncOptions {
  outbox: Outbox;
  hardware: DeviceHardware;
  /** Sends a twin/reported message on the current connection (if any). */
  report: (message: TwinReportedMessage) => void;
  onApplied: (version: number) => void;
  clock: Clock;
  logger: Logger;
}

const parseDesired = parser(TwinDesiredMessage);

export class TwinSync {
  readonly #options: TwinSyncOptions;

  constructor(options: TwinSyncOptions) {
    this.#options = options;
  }

  /** The last applied desired version, if any. */
  get desiredVersion(): number | undefined {
    const text = this.#options.outbox.getMeta(KEY_DESIRED_VERSION);
    return text === undefined ? undefined : Number(text);
  }

  get reportedVersion(): number {
    return Number(this.#options.outbox.getMeta(KEY_REPORTED_VERSION) ?? '0');
  }

  get reported(): JsonObject {
    return JSON.parse(this.#options.outbox.getMeta(KEY_REPORTED_STATE) ?? '{}') as JsonObject;
  }

  /**
   * On start: hands the last applied desired state to the hardware again. Level-based: the
   * hardware (a simulator, or a device that lost power) need not remember its settings, and the
   * retained desired message will not re-apply them, its version being already applied.
   */
  restore(): void {
    const { outbox, hardware, clock, logger } = this.#options;
    const text = outbox.getMeta(KEY_DESIRED_STATE);
    if (text === undefined) return;
    try {
      const next = { ...hardware.applyDesired(JSON.parse(text) as JsonObject, clock.now()), ...this.#agentState() };
      // No new version here: the full report on connect carries it.
      outbox.setMeta(KEY_REPORTED_STATE, JSON.stringify(next));
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'twin: the hardware failed to restore the desired state');
    }
  }

  /** On every connect: the whole reported state (it replaces the hub's copy), under a new version. */
  reportFull(): void {
    const state = this.reported;
    const version = this.#bumpVersion(() => {});
    this.#options.report({ ...this.#message(version, state), full: true });
  }

  /**
   * The hub holds a reported version at or above ours (this device lost its storage, or was
   * replaced): continue above the hub's and send the whole state again.
   */
  adoptVersion(currentVersion: number): void {
    if (currentVersion < this.reportedVersion) return;
    this.#options.outbox.setMeta(KEY_REPORTED_VERSION, String(currentVersion));
    this.#options.logger.info(
      { currentVersion },
      'twin: reported version behind the hub; reporting the whole state again',
    );
    this.reportFull();
  }

  /** A message on twin/desired (retained on connect, or a new one). */
  onDesired(payload: Buffer): void {
    const { outbox, hardware, clock, logger } = this.#options;
    const json = parseJson(payload.toString('utf8'));
    const parsed = json.ok ? parseDesired.parse(json.value) : json;
    if (!parsed.ok) {
      logger.warn({ problems: parsed.errors }, 'twin: invalid desired state ignored');
      return;
    }
    const { version, state } = parsed.value;
    const applied = this.desiredVersion;
    if (applied !== undefined && version <= applied) {
      logger.debug({ version, applied }, 'twin: desired version already applied');
      return;
    }
    let next: JsonObject;
    try {
      next = { ...hardware.applyDesired(state, clock.now()), ...this.#agentState() };
    } catch (err) {
      // Not marked applied: the same version is tried again on the next connect.
      logger.error({ version, err: (err as Error).message }, 'twin: the hardware failed to apply the desired state');
      return;
    }
    const before = this.reported;
    const reportedVersion = this.#bumpVersion(() => {
      outbox.setMeta(KEY_DESIRED_VERSION, String(version));
      outbox.setMeta(KEY_DESIRED_STATE, JSON.stringify(state));
      outbox.setMeta(KEY_REPORTED_STATE, JSON.stringify(next));
    });
    logger.info({ version }, 'twin: desired state applied');
    this.#options.report(this.#message(reportedVersion, diffMergePatch(before, next)));
    this.#options.onApplied(version);
  }

  /**
   * Sets one of the agent's own reported keys and, unless `send` is false (a full report follows),
   * reports the change as a patch under a new version. Offline, the patch is lost with the link
   * and the full report on the next connect carries the value.
   */
  setAgentReported(key: string, value: unknown, send = true): void {
    const { outbox } = this.#options;
    const before = this.reported;
    const next = { ...before, [key]: value };
    const agentState = { ...this.#agentState(), [key]: value };
    const write = () => {
      outbox.setMeta(KEY_AGENT_STATE, JSON.stringify(agentState));
      outbox.setMeta(KEY_REPORTED_STATE, JSON.stringify(next));
    };
    if (!send) {
      outbox.transaction(write); // the full report that follows takes the new version
      return;
    }
    const version = this.#bumpVersion(write);
    this.#options.report(this.#message(version, diffMergePatch(before, next)));
  }

  #agentState(): JsonObject {
    return JSON.parse(this.#options.outbox.getMeta(KEY_AGENT_STATE) ?? '{}') as JsonObject;
  }

  /** Persists a new reported version (and whatever `also` writes) in one transaction. */
  #bumpVersion(also: () => void): number {
    const { outbox } = this.#options;
    return outbox.transaction(() => {
      const version = this.reportedVersion + 1;
      outbox.setMeta(KEY_REPORTED_VERSION, String(version));
      also();
      return version;
    });
  }

  #message(version: number, state: JsonObject): TwinReportedMessage {
    const desiredVersion = this.desiredVersion;
    return { version, state, ...(desiredVersion !== undefined ? { desiredVersion } : {}) };
  }
}
