// Runs commands from the hub (`commands/{name}`) and answers each on `command-results` with an
// ok/error envelope carrying the command's id: a registered handler's result, or why it did not run.

import type { Clock, Logger } from '@homeostat/kit';
import { CommandMessage, type CommandResultMessage, isPlainObject, parseJson, parser } from '@homeostat/protocol';
import type { AgentErrorCode } from './errors.js';

export type CommandArgs = Record<string, unknown>;
/**
 * Resolves with the result sent back to the hub: an object as is, nothing as `{}`, any other
 * value as `{ value }` (the wire wants an object).
 */
export type CommandHandler = (args: CommandArgs) => Promise<unknown>;

export interface CommandRouterOptions {
  handlers: ReadonlyMap<string, CommandHandler>;
  /** Sends a result to the hub (through the outbox, so it survives a disconnect). */
  respond: (result: CommandResultMessage) => void;
  clock: Clock;
  logger: Logger;
}

const parseCommand = parser(CommandMessage);

export class CommandRouter {
  readonly #options: CommandRouterOptions;

  constructor(options: CommandRouterOptions) {
    this.#options = options;
  }

  async handle(name: string, payload: Buffer): Promise<void> {
    const { handlers, respond, clock, logger } = this.#options;
    const json = parseJson(payload.toString('utf8'));
    const parsed = json.ok ? parseCommand.parse(json.value) : json;
    if (!parsed.ok) {
      logger.warn({ command: name, problems: parsed.errors }, 'command: invalid message ignored');
      // Answer when the id can be read, so the hub does not wait for a timeout.
      const id = json.ok ? (json.value as { id?: unknown } | null)?.id : undefined;
      if (typeof id === 'string' && id.length > 0 && id.length <= 128) {
        respond({ id, ok: false, error: { code: 'ERR_VALIDATION', message: parsed.errors.join('; ') } });
      }
      return;
    }
    const command = parsed.value;
    const fail = (code: AgentErrorCode, message: string) =>
      respond({ id: command.id, ok: false, error: { code, message } });
    if (command.expiresAt !== undefined && command.expiresAt < clock.now()) {
      logger.info({ command: name, id: command.id }, 'command: expired before it arrived');
      fail('ERR_COMMAND_EXPIRED', `command ${name} expired at ${new Date(command.expiresAt).toISOString()}`);
      return;
    }
    const handler = handlers.get(name);
    if (handler === undefined) {
      fail('ERR_COMMAND_UNKNOWN', `this device has no command named ${name}`);
      return;
    }
    try {
      const value = await handler(command.args);
      const result = value === undefined ? {} : isPlainObject(value) ? value : { value };
      respond({ id: command.id, ok: true, result });
    } catch (err) {
      logger.warn({ command: name, id: command.id, err: (err as Error).message }, 'command: handler failed');
      fail('ERR_COMMAND_FAILED', (err as Error).message);
    }
  }
}
