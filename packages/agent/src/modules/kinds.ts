// The module kinds built into the agent, in one list: what a device can run without anything
// injected through AgentOptions.moduleKinds.

import { aggregateKind, type TelemetryStage } from './aggregate.js';
import { functionKind } from './function.js';
import { processKind } from './process.js';
import { ruleKind } from './rule.js';
import type { AnyModuleKind } from './supervisor.js';

export interface BuiltInKindsOptions {
  /** The agent's telemetry stage, which aggregate modules take over. */
  stage: TelemetryStage;
  /** Commands process modules may run. */
  allowCommands: readonly string[];
}

export function builtInKinds(options: BuiltInKindsOptions): AnyModuleKind[] {
  return [
    ruleKind,
    aggregateKind(options.stage),
    functionKind(),
    processKind({ allowCommands: options.allowCommands }),
  ];
}
