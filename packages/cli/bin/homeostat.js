#!/usr/bin/env node
// The `homeostat` binary. A committed file (not the build output) so that npm can link it
// while installing, before `prepare` has built dist/.
import '../dist/main.js';
