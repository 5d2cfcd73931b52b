// API tokens: bearer tokens with a role. Only hashes are stored; a secret is shown once.

import { type Clock, hashToken, newToken } from '@homeostat/kit';
import { type ApiToken, HomeostatError, type Role } from '@homeostat/protocol';
import type { ApiTokenRecord, Store } from '../store/store.js';

export class TokenService {
  readonly #store: Store;
  readonly #clock: Clock;

  constructor(deps: { store: Store; clock: Clock }) {
    this.#store = deps.store;
    this.#clock = deps.clock;
  }

  /**
   * On a hub with no token yet, creates the `admin` token (the given one, or a new one) and
   * returns its secret to print once; `null` when tokens exist already.
   */
  async bootstrap(initial: string | null): Promise<string | null> {
    if ((await this.#store.countApiTokens()) > 0) return null;
    const secret = initial ?? newToken('hsa_');
    await this.#store.createApiToken({
      name: 'admin',
      role: 'admin',
      tokenHash: hashToken(secret),
      createdAt: this.#clock.now(),
    });
    return secret;
  }

  async authenticate(secret: string): Promise<ApiTokenRecord | undefined> {
    return this.#store.findApiTokenByHash(hashToken(secret));
  }

  async create(name: string, role: Role): Promise<{ token: ApiToken; secret: string }> {
    const secret = newToken('hsa_');
    const record = { name, role, tokenHash: hashToken(secret), createdAt: this.#clock.now() };
    if (!(await this.#store.createApiToken(record))) {
      throw new HomeostatError('ERR_VALIDATION', `a token named ${name} exists already`, ['/name: taken']);
    }
    return { token: view(record), secret };
  }

  async list(): Promise<ApiToken[]> {
    return (await this.#store.listApiTokens()).map(view);
  }

  async delete(name: string): Promise<void> {
    if (!(await this.#store.deleteApiToken(name))) throw new HomeostatError('ERR_NOT_FOUND', `no token named ${name}`);
  }
}

function view(r: ApiTokenRecord): ApiToken {
  return { name: r.name, role: r.role, createdAt: r.createdAt };
}
