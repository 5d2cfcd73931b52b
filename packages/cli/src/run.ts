// The commands that run Homeostat's processes (`hub`, `agent`, `sim`, `demo`). They load the
// hub, agent and simulator packages lazily, so `homeostat get devices` starts without them.

import type { Command } from 'commander';
import type { CliIo } from './io.js';
import { registerAgent } from './run/agent.js';
import { registerDemo } from './run/demo.js';
import { registerHub } from './run/hub.js';
import { registerSim } from './run/sim.js';

export function registerRunCommands(program: Command, io: CliIo): void {
  registerHub(program, io);
  registerAgent(program, io);
  registerSim(program, io);
  registerDemo(program, io);
}
