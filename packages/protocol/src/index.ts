// The wire contract: browser-safe, no I/O.
export * from './artifacts.js';
export * from './autonomy.js';
export * from './decisions.js';
export * from './deployments.js';
export * from './edge.js';
export * from './errors.js';
export * from './incidents.js';
export * from './merge-patch.js';
export * from './messages.js';
export * from './modules.js';
export * from './names.js';
export * from './parse.js';
export * from './policies.js';
export * from './resources.js';
export * from './rollouts.js';
export * from './topics.js';
