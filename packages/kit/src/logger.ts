// Structured logs through pino. Secrets are redacted by key wherever they appear, so a token
// passed in an object never reaches a log line.

import { pino } from 'pino';

export type Logger = pino.Logger;

export const REDACTED_KEYS = ['token', 'password', 'claimToken', 'authorization', 'secret', 'adminToken'];

export interface LoggerOptions {
  name: string;
  level?: string;
  /** Where to write; stdout by default. */
  destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const paths = REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `req.headers.${k}`]);
  const config: pino.LoggerOptions = {
    name: options.name,
    level: options.level ?? process.env.HOMEOSTAT_LOG_LEVEL ?? 'info',
    redact: { paths, censor: '[redacted]' },
  };
  return options.destination ? pino(config, options.destination) : pino(config);
}

/** A logger that writes nothing, for tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
