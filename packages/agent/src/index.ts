// The device agent's public API, used by the simulator and the CLI.
export { AGENT_VERSION, Agent, type AgentEvents, type AgentOptions, type RaiseEventInput } from './agent.js';
export type { CommandArgs, CommandHandler } from './commands.js';
export type { ActuatorValue, DeviceHardware, Metrics, State } from './device/hardware.js';
export { AGENT_ERRORS, AgentError, type AgentErrorCode } from './errors.js';
export { CREDENTIALS_FILE, type DeviceCredentials, loadCredentials, saveCredentials } from './link/credentials.js';
export { aggregateKind, TelemetryStage } from './modules/aggregate.js';
export { functionKind } from './modules/function.js';
export { builtInKinds } from './modules/kinds.js';
export { ModelKind, type ModelKindDeps, ModelPipeline, placeModel } from './modules/model.js';
export type {
  HealthResult,
  LocalStreams,
  ModuleContext,
  ModuleKindRunner,
  RunningModule,
  Sample,
} from './modules/module.js';
export { ModuleDenied, ModuleExited, ModuleRefused } from './modules/module.js';
export { type CurrentModule, planModules, type Step } from './modules/plan.js';
export { type ProcessKindOptions, processKind } from './modules/process.js';
export type { DecisionInput, RuleDecision, RuleSpec } from './modules/rule.js';
export { RuleEngine, ruleKind, ruleProblems } from './modules/rule.js';
export { StreamStore, type StreamStoreOptions } from './modules/streams.js';
export {
  type AnyModuleKind,
  HEALTH_DEFAULTS,
  ModuleSupervisor,
  RESTART_DEFAULTS,
  type SupervisorEvents,
  type SupervisorOptions,
} from './modules/supervisor.js';
export type { UpdateProbeOptions } from './ota/agent-updates.js';
export { FIRMWARE_HEALTH, type FirmwareHealth, firmwareImage, readFirmwareImage } from './ota/firmware-image.js';
export { HttpArtifactSource, type HttpSourceOptions } from './ota/http-source.js';
export { MemoryBootSlots } from './ota/memory-slots.js';
export { type DurableRecord, FileRecord, MemoryRecord } from './ota/record.js';
export {
  type BootOutcome,
  type BootSlots,
  type BootState,
  FileBootSlots,
  type FileSlotsOptions,
  otherSlot,
  type SlotContent,
  type SlotName,
} from './ota/slots.js';
export { TRUST_FILE, TrustStore, type TrustStoreOptions, verifyArtifactBytes } from './ota/trust.js';
export {
  type ArtifactSource,
  type Journal,
  type Probe,
  planUpdate,
  UPDATE_STEPS,
  type UpdateOutcome,
  Updater,
  type UpdaterOptions,
  type UpdateStep,
} from './ota/updater.js';
export { MemoryOutbox } from './outbox/memory-outbox.js';
export {
  DEFAULT_OUTBOX_LIMITS,
  type DropReason,
  type NewOutboxEntry,
  type Outbox,
  type OutboxDropped,
  type OutboxEntry,
  type OutboxLimits,
  PRIORITY,
} from './outbox/outbox.js';
export { SqliteOutbox } from './outbox/sqlite-outbox.js';
export { diffMergePatch } from './twin/merge-diff.js';
