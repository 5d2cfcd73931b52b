// The device's credentials file, `<dataDir>/credentials.json`, written once a claim succeeds.
// Mode 0600: the token is the device's only secret.

import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DeviceCredentials {
  deviceId: string;
  token: string;
}

export const CREDENTIALS_FILE = 'credentials.json';

/** The stored credentials, or undefined when there are none; throws on a damaged file. */
export function loadCredentials(dataDir: string): DeviceCredentials | undefined {
  const file = join(dataDir, CREDENTIALS_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const value = JSON.parse(text) as Partial<DeviceCredentials> | null;
  if (typeof value?.deviceId !== 'string' || typeof value.token !== 'string' || value.deviceId === '') {
    throw new Error(`${file}: expected {"deviceId": string, "token": string}`);
  }
  return { deviceId: value.deviceId, token: value.token };
}

/** Writes the file atomically (temp file, then rename), readable by the owner only. */
export function saveCredentials(dataDir: string, credentials: DeviceCredentials): void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, CREDENTIALS_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  const body = `${JSON.stringify({ deviceId: credentials.deviceId, token: credentials.token }, null, 2)}\n`;
  writeFileSync(temp, body, { mode: 0o600 });
  // mode applies only when the file is created; a leftover temp file could have kept another.
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}
