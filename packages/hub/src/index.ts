// The hub: control plane of a Homeostat fleet.
export { DEMO_AUTONOMY, DEMO_POLICIES, type PolicyDocument } from './autonomic/demo-policies.js';
export { HUB_POLICIES } from './autonomic/hub-policies.js';
export type { AutonomicService } from './autonomic/service.js';
export { configFromEnv, DEFAULT_CONFIG, type HubConfig } from './config.js';
export { type DerivedReading, HubModels, type HubModelsDeps } from './inference/hub-models.js';
export { HUB_VERSION, Hub, type HubDeps, type StartedHub } from './main.js';
export { RolloutController, type RolloutControllerDeps } from './rollout/controller.js';
export { newRevision } from './rollout/service.js';
export { openSqliteStore, SqlStore } from './store/sql-store.js';
export type { Store } from './store/store.js';
