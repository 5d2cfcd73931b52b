// Small shared runtime pieces, no internal dependencies.
export * from './backoff.js';
export * from './clock.js';
export * from './events.js';
export * from './keyed-queue.js';
export * from './logger.js';
export * from './signing.js';
export * from './tokens.js';
