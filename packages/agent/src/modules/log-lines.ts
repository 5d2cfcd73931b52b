// Lines a module writes (a process's stdout and stderr, a function's log calls) go to the agent's
// logger, at most `perSecond` a second per module: a chatty or looping module must not fill the
// disk or starve the agent. What is held back is counted in the next line that goes through.

import type { Clock, Logger } from '@homeostat/kit';

export class LineLimiter {
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #perSecond: number;
  #second = 0;
  #inSecond = 0;
  #suppressed = 0;

  constructor(clock: Clock, logger: Logger, perSecond = 20) {
    this.#clock = clock;
    this.#logger = logger;
    this.#perSecond = perSecond;
  }

  line(stream: 'stdout' | 'stderr' | 'log', text: string): void {
    const second = Math.floor(this.#clock.now() / 1000);
    if (second !== this.#second) {
      this.#second = second;
      this.#inSecond = 0;
    }
    if (++this.#inSecond > this.#perSecond) {
      this.#suppressed++;
      return;
    }
    const fields = { stream, ...(this.#suppressed > 0 ? { suppressed: this.#suppressed } : {}) };
    this.#suppressed = 0;
    const line = text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
    if (stream === 'stderr') this.#logger.warn(fields, line);
    else this.#logger.info(fields, line);
  }
}
