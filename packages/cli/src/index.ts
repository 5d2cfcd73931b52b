// The CLI as a library: the program factory and its parts, for tests and for embedding.
export { HubClient, type PutDeviceResult, type PutGroupResult } from './client.js';
export { type CliConfig, type Connection, configPath, readConfig, resolveConnection, writeConfig } from './config.js';
export { ApiError, CliError, EXIT_ERROR, EXIT_OK, EXIT_USAGE, UnreachableError, UsageError } from './errors.js';
export { type CliIo, nodeIo } from './io.js';
export { type ApplyItem, parseManifests } from './manifest.js';
export { buildProgram, runProgram } from './program.js';
