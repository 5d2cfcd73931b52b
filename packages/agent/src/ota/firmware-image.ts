// The simulator's "firmware": a tiny JSON artifact, `{name, version, health}`, that a simulated
// device runs from its active slot. `health` is the release's own behaviour after the switch, so
// a test or a benchmark can ship a bad release: `fail-probe` boots but never passes its own health
// check (the device rolls back when the probe window closes), `crash-on-boot` takes the device
// down as soon as it starts (it restarts on trial, and the boot counter rolls it back). Any other
// file is a real image with no checks of its own: the agent's probe is then the link and the modules.

export const FIRMWARE_HEALTH = ['ok', 'fail-probe', 'crash-on-boot'] as const;
export type FirmwareHealth = (typeof FIRMWARE_HEALTH)[number];

export interface FirmwareImage {
  type: 'homeostat-sim-firmware';
  name: string;
  version: string;
  health: FirmwareHealth;
}

/** The bytes of a simulated firmware image, to sign and push like any artifact. */
export function firmwareImage(name: string, version: string, health: FirmwareHealth = 'ok'): Buffer {
  const image: FirmwareImage = { type: 'homeostat-sim-firmware', name, version, health };
  return Buffer.from(`${JSON.stringify(image)}\n`);
}

/** The image a slot holds, when it is a simulated one; null for any other file (or none). */
export function readFirmwareImage(bytes: Buffer | null): FirmwareImage | null {
  // Real images are large and binary: only a small file can be one of ours.
  if (bytes === null || bytes.length > 4096) return null;
  try {
    const value = JSON.parse(bytes.toString('utf8')) as Partial<FirmwareImage>;
    if (value.type !== 'homeostat-sim-firmware') return null;
    const health = FIRMWARE_HEALTH.includes(value.health as FirmwareHealth) ? (value.health as FirmwareHealth) : 'ok';
    return { type: value.type, name: String(value.name), version: String(value.version), health };
  } catch {
    return null;
  }
}
