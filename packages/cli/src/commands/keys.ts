// `homeostat keys init|rotate`: the update trust chain, made offline. `keys init` creates the root
// key (kept offline: it only signs the list of signing keys) and a first signing key, and the
// root-signed `trusted-keys.json` that devices receive. `keys rotate` adds a signing key (and
// revokes old ones) under a higher list version. Private keys are written 0600, never printed.

import { basename, join } from 'node:path';
import { newSigningKey, type SigningKey, signingKeyFromPem, signMessage } from '@homeostat/kit';
import { canonicalJson, PublicKey, parser, SignedTrustedKeys, type TrustedKeys } from '@homeostat/protocol';
import type { Command } from 'commander';
import { collect, parseDuration } from '../args.js';
import { CliError, UsageError } from '../errors.js';
import type { CliIo } from '../io.js';

export const ROOT_KEY_FILE = 'root.key';
export const ROOT_PUBLIC_FILE = 'root.pub.json';
export const TRUSTED_KEYS_FILE = 'trusted-keys.json';

const SECRET = 0o600;
const PUBLIC = 0o644;
const parseTrusted = parser(SignedTrustedKeys);
const parseRootKey = parser(PublicKey);

export function signDocument<T>(
  signed: T,
  key: SigningKey,
): { signed: T; signatures: { keyId: string; sig: string }[] } {
  return { signed, signatures: [{ keyId: key.keyId, sig: signMessage(canonicalJson(signed), key.privateKeyPem) }] };
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
const publicPart = (k: SigningKey) => ({ keyId: k.keyId, publicKey: k.publicKey });

export function registerKeys(program: Command, io: CliIo): void {
  const keys = program.command('keys').description('the keys that sign updates (offline, no hub needed)');

  keys
    .command('init')
    .description('create a root key, a first signing key and the root-signed trusted-keys.json')
    .requiredOption('--dir <dir>', 'where to write the keys (created; must not hold a root key yet)')
    .option('--expires <duration>', 'how long devices trust this list of signing keys', '365d')
    .action(async (opts: { dir: string; expires: string }) => {
      const expiresIn = parseDuration('--expires', opts.expires);
      if (await exists(io, join(opts.dir, ROOT_KEY_FILE))) {
        throw new CliError(`${join(opts.dir, ROOT_KEY_FILE)} exists: refusing to replace a root key`, [
          'devices trust the root they were provisioned with; rotate signing keys with `homeostat keys rotate`',
        ]);
      }
      const made = await initKeys(io, opts.dir, expiresIn);
      io.stdout(
        `root key ${made.root.keyId}: ${ROOT_KEY_FILE} (secret), ${ROOT_PUBLIC_FILE} (provision devices with it)\n` +
          `signing key ${made.signingKeyId}: ${basename(made.signingKeyFile)} (secret)\n` +
          `${TRUSTED_KEYS_FILE}: version 1, trusts ${made.signingKeyId}\n`,
      );
      io.stderr(`warning: move ${join(opts.dir, ROOT_KEY_FILE)} offline; it is needed only to rotate signing keys\n`);
    });

  keys
    .command('rotate')
    .description('add a new signing key to trusted-keys.json under a higher version, signed by the root')
    .requiredOption('--dir <dir>', 'the directory of `keys init`')
    .option('--root-key <file>', 'the root private key, if not in --dir')
    .option('--revoke <keyId>', 'stop trusting this signing key (repeatable)', collect, [])
    .option('--expires <duration>', 'how long devices trust the new list', '365d')
    .action(async (opts: { dir: string; rootKey?: string; revoke: string[]; expires: string }) => {
      const expiresIn = parseDuration('--expires', opts.expires);
      const root = signingKeyFromPem(await readRequired(io, opts.rootKey ?? join(opts.dir, ROOT_KEY_FILE)));
      const held = (await readTrustedKeys(io, opts.dir)).signed;
      const unknown = opts.revoke.filter((id) => !held.keys.some((k) => k.keyId === id));
      if (unknown.length > 0) throw new UsageError(`--revoke: not in the list: ${unknown.join(', ')}`);
      const next = newSigningKey();
      const list: TrustedKeys = {
        type: 'trusted-keys',
        version: held.version + 1,
        expiresAt: io.now() + expiresIn,
        keys: [...held.keys.filter((k) => !opts.revoke.includes(k.keyId)), publicPart(next)],
      };
      await io.writeFile(join(opts.dir, `signing-${next.keyId}.key`), next.privateKeyPem, SECRET);
      await io.writeFile(join(opts.dir, TRUSTED_KEYS_FILE), json(signDocument(list, root)), PUBLIC);
      io.stdout(
        `signing key ${next.keyId}: signing-${next.keyId}.key (secret)\n` +
          `${TRUSTED_KEYS_FILE}: version ${list.version}, trusts ${list.keys.map((k) => k.keyId).join(', ')}\n`,
      );
    });
}

/** What `keys init` made: the root's public part, the root-signed list, the signing key's file. */
export interface InitializedKeys {
  root: PublicKey;
  trusted: SignedTrustedKeys;
  signingKeyId: string;
  signingKeyFile: string;
}

/** A root key, a first signing key and the root-signed list that trusts it, written into `dir`. */
export async function initKeys(io: CliIo, dir: string, expiresIn: number): Promise<InitializedKeys> {
  const root = newSigningKey();
  const signing = newSigningKey();
  const list: TrustedKeys = {
    type: 'trusted-keys',
    version: 1,
    expiresAt: io.now() + expiresIn,
    keys: [publicPart(signing)],
  };
  const trusted = signDocument(list, root);
  const signingKeyFile = join(dir, `signing-${signing.keyId}.key`);
  await io.writeFile(join(dir, ROOT_KEY_FILE), root.privateKeyPem, SECRET);
  await io.writeFile(join(dir, ROOT_PUBLIC_FILE), json(publicPart(root)), PUBLIC);
  await io.writeFile(signingKeyFile, signing.privateKeyPem, SECRET);
  await io.writeFile(join(dir, TRUSTED_KEYS_FILE), json(trusted), PUBLIC);
  return { root: publicPart(root), trusted, signingKeyId: signing.keyId, signingKeyFile };
}

/**
 * The keys an earlier `initKeys` wrote into `dir`, or new ones when it holds none (the demo's own
 * trust chain, kept across its runs so the devices it provisioned keep trusting it).
 */
export async function openOrInitKeys(io: CliIo, dir: string, expiresIn: number): Promise<InitializedKeys> {
  const rootFile = join(dir, ROOT_PUBLIC_FILE);
  let rootText: string;
  try {
    rootText = await io.readFile(rootFile);
  } catch (err) {
    // Only a root that is not there is made anew: one that cannot be read is never replaced.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return initKeys(io, dir, expiresIn);
    throw new CliError(`cannot read ${rootFile}: ${(err as Error).message}`);
  }
  const rootParsed = parseRootKey.parse(JSON.parse(rootText));
  if (!rootParsed.ok) throw new CliError(`${rootFile} is not a public key`, rootParsed.errors);
  const root = rootParsed.value;
  const trusted = await readTrustedKeys(io, dir);
  // The newest signing key is the last one the list trusts.
  const signingKeyId = trusted.signed.keys.at(-1)!.keyId;
  return { root, trusted, signingKeyId, signingKeyFile: join(dir, `signing-${signingKeyId}.key`) };
}

/** The root-signed list of signing keys in `dir`. */
async function readTrustedKeys(io: CliIo, dir: string): Promise<SignedTrustedKeys> {
  const parsed = parseTrusted.parse(JSON.parse(await readRequired(io, join(dir, TRUSTED_KEYS_FILE))));
  if (!parsed.ok) throw new CliError(`${TRUSTED_KEYS_FILE} is not a trusted-keys list`, parsed.errors);
  return parsed.value;
}

export async function readRequired(io: CliIo, path: string): Promise<string> {
  try {
    return await io.readFile(path);
  } catch (err) {
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

async function exists(io: CliIo, path: string): Promise<boolean> {
  try {
    await io.readFile(path);
    return true;
  } catch {
    return false;
  }
}
