// The hub: control plane of a Homeostat fleet.
export { configFromEnv, DEFAULT_CONFIG, type HubConfig } from './config.js';
export { HUB_VERSION, Hub, type HubDeps, type StartedHub } from './main.js';
export { openSqliteStore, SqlStore } from './store/sql-store.js';
export type { Store } from './store/store.js';
