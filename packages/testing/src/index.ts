// Dev-only helpers for tests across the workspace: a fake clock, a real-socket test broker, a
// faulty TCP proxy, a polling wait and an unsigned artifact manifest.
export { FakeClock } from '@homeostat/kit';
export { startTestBroker, type TestBroker, type TestBrokerOptions } from './broker.js';
export { type FaultyProxy, type FaultyProxyOptions, startFaultyProxy } from './faulty-proxy.js';
export { listenOnFreePort } from './listen.js';
export { unsignedManifest } from './manifest.js';
export { type WaitForOptions, waitFor } from './wait-for.js';
