// Twin synchronisation on the device: applies the hub's desired state to the hardware and reports
// what the device runs. The applied desired version, the reported state and the reported
// version are kept in the outbox's meta, so they survive restarts with the readings.
//
// Reported state is published directly, not through the outbox: it is level-based. Every
// (re)connect sends the whole state with a new version, which repairs any patch lost with a
// connection, and a queued old patch would only be superseded (the hub ignores versions not above
// the stored one). Readings are history, each one matters: those go through the outbox.

import type { Clock, Logger } from '@homeostat/kit';
import { type JsonObject, parseJson, parser, TwinDesiredMessage, type TwinReportedMessage } from '@homeostat/protocol';
import type { DeviceHardware } from '../device/hardware.js';
import type { Outbox } from '../outbox/outbox.js';
import { diffMergePatch } from './merge-diff.js';

const KEY_DESIRED_VERSION = 'twin.desiredVersion';
const KEY_REPORTED_VERSION = 'twin.reportedVersion';
const KEY_REPORTED_STATE = 'twin.reported';
const KEY_DESIRED_STATE = 'twin.desired';

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
      const next = hardware.applyDesired(JSON.parse(text) as JsonObject, clock.now());
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
      next = hardware.applyDesired(state, clock.now());
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
