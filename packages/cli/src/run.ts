// The commands that run Homeostat's processes (`hub`, `agent`, `sim`, `demo`). They load the
// hub, agent and simulator packages, which the fleet commands never need; kept apart so
// `homeostat get devices` starts without them.

import type { Command } from 'commander';

/** Adds the run commands to the program; a seam for now, filled in with the runtime packages. */
export function registerRunCommands(_program: Command): void {}
