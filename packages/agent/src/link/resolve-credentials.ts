// Where a starting agent gets its identity: explicit id and token first, then the credentials
// stored in its dataDir, then a claim (whose grant is stored for the next start).

import type { BackoffOptions, Clock, Logger } from '@homeostat/kit';
import type { AgentOptions } from '../agent-options.js';
import { AgentError } from '../errors.js';
import { claimDevice } from './claim.js';
import { type DeviceCredentials, loadCredentials, saveCredentials } from './credentials.js';

export interface ResolveCredentialsDeps {
  dataDir: string | null;
  clock: Clock;
  logger: Logger;
  backoff: BackoffOptions;
  /** Aborting ends a pending claim; the promise rejects with the signal's reason. */
  signal: AbortSignal;
  /** A claim was granted (and stored, when there is a dataDir). */
  claimed: (credentials: DeviceCredentials) => void;
}

/** Explicit id and token first, then stored credentials, then a claim. */
export async function resolveCredentials(
  options: Pick<AgentOptions, 'id' | 'token' | 'claim' | 'hubUrl' | 'name' | 'serial'>,
  deps: ResolveCredentialsDeps,
): Promise<DeviceCredentials> {
  const { id, token, claim, hubUrl } = options;
  const { dataDir, logger } = deps;
  if (id !== undefined && token !== undefined) return { deviceId: id, token };
  const stored = dataDir === null ? undefined : loadCredentials(dataDir);
  if (stored !== undefined) return stored;
  if (claim === undefined) throw new AgentError('ERR_CREDENTIALS_MISSING');
  const name = options.name ?? id;
  const granted = await claimDevice({
    url: hubUrl,
    claimToken: claim,
    ...(name !== undefined ? { name } : {}),
    ...(options.serial !== undefined ? { serial: options.serial } : {}),
    clock: deps.clock,
    logger,
    backoff: deps.backoff,
    signal: deps.signal,
  });
  if (dataDir !== null) saveCredentials(dataDir, granted);
  else logger.warn({ deviceId: granted.deviceId }, 'agent: claimed without a dataDir; credentials kept in memory only');
  deps.claimed(granted);
  return granted;
}
