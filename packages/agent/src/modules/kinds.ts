// The module kinds built into the agent, in one list: what a device can run without anything
// injected through AgentOptions.moduleKinds.

import { join } from 'node:path';
import { DirModelStore, MemoryModelStore, OnnxRunner } from '@homeostat/inference';
import type { Capabilities, ModelConfig } from '@homeostat/protocol';
import { aggregateKind, type TelemetryStage } from './aggregate.js';
import { functionKind } from './function.js';
import { ModelKind } from './model.js';
import { processKind } from './process.js';
import { ruleKind } from './rule.js';
import type { AnyModuleKind } from './supervisor.js';

export interface BuiltInKindsOptions {
  /** The agent's telemetry stage, which aggregate modules take over. */
  stage: TelemetryStage;
  /** Commands process modules may run. */
  allowCommands: readonly string[];
  /** What model modules need: where placement is decided from, where models are cached and fetched. */
  model: {
    capabilities(): Capabilities;
    /** The model cache lives under it (`models/`); null keeps models in memory. */
    dataDir: string | null;
    fetchArtifact?(artifact: ModelConfig['artifact']): Promise<Uint8Array>;
  };
}

export function builtInKinds(options: BuiltInKindsOptions): AnyModuleKind[] {
  return [
    ruleKind,
    aggregateKind(options.stage),
    functionKind(),
    processKind({ allowCommands: options.allowCommands }),
    new ModelKind({
      capabilities: options.model.capabilities,
      store:
        options.model.dataDir === null
          ? new MemoryModelStore()
          : new DirModelStore(join(options.model.dataDir, 'models')),
      ...(options.model.fetchArtifact ? { fetchArtifact: options.model.fetchArtifact } : {}),
      createRunner: () => new OnnxRunner(),
    }),
  ];
}
