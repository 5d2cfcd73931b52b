// Ed25519 keys and signatures (node:crypto) for signed update metadata: the CLI signs, the agent
// verifies. Keys are stored as PKCS#8 PEM (private) and as the raw 32-byte public key in
// base64url (public), which is what the protocol's documents carry.

import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';

export interface SigningKey {
  keyId: string;
  /** Raw 32-byte public key, base64url. */
  publicKey: string;
  /** PKCS#8 PEM: a secret, written with mode 0600 and never logged. */
  privateKeyPem: string;
}

/** The DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw key follows it. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function newSigningKey(): SigningKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
  return {
    keyId: keyIdOf(raw),
    publicKey: raw.toString('base64url'),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

/** The key id the documents name a key by: first 16 hex digits of SHA-256 of the raw key. */
export function keyIdOf(rawPublicKey: Buffer): string {
  return createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16);
}

/** Reads a PEM private key back into its id and public half (to sign with a key from a file). */
export function signingKeyFromPem(privateKeyPem: string): SigningKey {
  const privateKey = createPrivateKey(privateKeyPem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 private key');
  const raw = createPublicKey(privateKey).export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length);
  return { keyId: keyIdOf(raw), publicKey: raw.toString('base64url'), privateKeyPem };
}

/** Signs `message` (the canonical JSON of a document); the signature in base64url. */
export function signMessage(message: string, privateKeyPem: string): string {
  return sign(null, Buffer.from(message, 'utf8'), privateKeyPem).toString('base64url');
}

/** True when `sig` is a valid signature of `message` by the raw public key (base64url). */
export function verifyMessage(message: string, sig: string, publicKey: string): boolean {
  const key = publicKeyObject(publicKey);
  if (key === null) return false;
  return verify(null, Buffer.from(message, 'utf8'), key, Buffer.from(sig, 'base64url'));
}

/** Keys parsed already: a device checks the same few keys on every document it receives. */
const KEY_OBJECTS = new Map<string, KeyObject | null>();
const MAX_KEY_OBJECTS = 64;

/** The key object of a raw public key (base64url), null when it is not a valid Ed25519 key. */
function publicKeyObject(publicKey: string): KeyObject | null {
  const known = KEY_OBJECTS.get(publicKey);
  if (known !== undefined) return known;
  let key: KeyObject | null = null;
  try {
    const raw = Buffer.from(publicKey, 'base64url');
    if (raw.length === 32)
      key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    key = null;
  }
  if (KEY_OBJECTS.size >= MAX_KEY_OBJECTS) KEY_OBJECTS.clear();
  KEY_OBJECTS.set(publicKey, key);
  return key;
}
