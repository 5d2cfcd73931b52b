#!/usr/bin/env node
// The `homeostat` binary: the one place that uses the real process, terminal and network.

import { nodeIo } from './io.js';
import { buildProgram, runProgram } from './program.js';
import { registerRunCommands } from './run.js';

const io = nodeIo();
const program = buildProgram(io);
registerRunCommands(program, io);
// exitCode rather than exit(): lets stdout drain when it is a pipe.
process.exitCode = await runProgram(program, io, process.argv.slice(2));
