// A guard in front of aedes that caps the size of every incoming MQTT packet. Neither aedes nor
// mqtt-packet limits it: a client, before any authentication, can announce a 200 MB CONNECT and
// stream it, and the parser buffers all of it. The guard follows packet boundaries by reading only
// the fixed headers, and kills the connection as soon as a header announces too much.

import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

export interface PacketViolation {
  /** `too-large`: the remaining length is over the limit; `malformed`: its encoding is invalid. */
  reason: 'too-large' | 'malformed';
  /** The announced remaining length; for `malformed`, what its first four bytes encoded. */
  remainingLength: number;
  limit: number;
  remoteAddress?: string;
}

export interface PacketGuardOptions {
  /**
   * The largest Remaining Length accepted: the bytes after the fixed header (at most 5 bytes),
   * i.e. what the parser would buffer. Leave room above the payload limit for the topic, the
   * packet id and properties, so that payloads just over it still reach authorizePublish and are
   * refused politely there.
   */
  maxPacketBytes: number;
  /** Called once, after the socket is destroyed; must not throw (it runs in a socket event). */
  onViolation(info: PacketViolation): void;
}

// A Remaining Length is a variable byte integer of at most 4 bytes, so at most 268,435,455
// [MQTT-2.2.3] (3.1.1 §2.2.3): 4 × 7 bits, and `<<` stays clear of the sign bit.
const MAX_LENGTH_BYTES = 4;

/**
 * Follows MQTT packet boundaries over a byte stream cut anywhere: it reads each fixed header and
 * skips each body by arithmetic, so the cost is a few operations per packet, not per byte.
 */
export class PacketScanner {
  readonly #limit: number;
  /** Body bytes of the current packet still to skip. */
  #skip = 0;
  /** -1: next byte is a packet's first byte (type and flags); else Remaining Length bytes read. */
  #lengthBytes = -1;
  #length = 0;

  constructor(maxPacketBytes: number) {
    this.#limit = maxPacketBytes;
  }

  /** Scans the next chunk; returns undefined if all is well, else the first violation in it. */
  scan(chunk: Uint8Array): Omit<PacketViolation, 'remoteAddress'> | undefined {
    const end = chunk.length;
    let i = 0;
    while (i < end) {
      if (this.#skip > 0) {
        const available = end - i;
        if (this.#skip >= available) {
          this.#skip -= available;
          return undefined;
        }
        i += this.#skip;
        this.#skip = 0;
        continue;
      }
      if (this.#lengthBytes < 0) {
        // The type and flags byte: mqtt-packet validates it; only the length matters here.
        i++;
        this.#lengthBytes = 0;
        this.#length = 0;
        continue;
      }
      const byte = chunk[i++]!;
      // Least significant 7-bit group first; bit 7 says another byte follows [MQTT-2.2.3].
      this.#length |= (byte & 0x7f) << (7 * this.#lengthBytes);
      this.#lengthBytes++;
      if (byte & 0x80) {
        if (this.#lengthBytes === MAX_LENGTH_BYTES) {
          return { reason: 'malformed', remainingLength: this.#length, limit: this.#limit };
        }
        continue;
      }
      if (this.#length > this.#limit) {
        return { reason: 'too-large', remainingLength: this.#length, limit: this.#limit };
      }
      this.#skip = this.#length;
      this.#lengthBytes = -1;
    }
    return undefined;
  }
}

/**
 * Wraps an accepted socket for `aedes.handle(...)`. Incoming chunks are passed through unchanged
 * (the same Buffer objects) until a packet header breaks the limit: then the socket is destroyed
 * before its body is read, nothing more is passed on, and the returned stream closes, so aedes
 * cleans up as for any lost connection (and publishes the will). Outgoing writes go to the socket;
 * destroying the returned stream destroys the socket.
 */
export function guardConnection(socket: Socket, options: PacketGuardOptions): GuardedConnection {
  return new GuardedConnection(socket, options);
}

export class GuardedConnection extends Duplex {
  readonly socket: Socket;
  /** Captured now: a destroyed socket no longer knows it. */
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly #scanner: PacketScanner;
  readonly #onViolation: PacketGuardOptions['onViolation'];
  #violated = false;
  /** Holds taken, and those released: in the order taken, each once it and those before it settled. */
  #taken = 0;
  #released = 0;
  /** Holds settled while one taken before them had not. */
  #settledAhead: Set<number> | undefined;
  /** Writes waiting for the holds taken before them, in order (the stream passes one at a time). */
  readonly #waiting: { needs: number; run: () => void }[] = [];

  constructor(socket: Socket, options: PacketGuardOptions) {
    super({
      // When the peer ends its side, end ours too, as a net.Server socket does by default.
      allowHalfOpen: false,
      // Strings written by mqtt-packet go to the socket as they are; it encodes them itself.
      decodeStrings: false,
      readableHighWaterMark: socket.readableHighWaterMark,
      writableHighWaterMark: socket.writableHighWaterMark,
    });
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.#scanner = new PacketScanner(options.maxPacketBytes);
    this.#onViolation = options.onViolation;

    // 'data' (flowing mode, paused when aedes stops reading) hands over each chunk as received;
    // socket.read() would concatenate, i.e. copy, whatever is buffered.
    socket.on('data', this.#onData);
    socket.on('end', () => {
      if (!this.#violated) this.push(null);
    });
    // Stays attached for the socket's whole life, so a late socket error is never unhandled.
    socket.on('error', (err) => this.destroy(err));
    // A socket closed without an 'end' (reset, destroyed) closes this stream: aedes sees a
    // premature close and cleans up the client.
    socket.on('close', () => this.destroy());
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#violated) return;
    const violation = this.#scanner.scan(chunk);
    if (violation) {
      this.#violated = true;
      this.socket.destroy();
      this.#onViolation({ ...violation, remoteAddress: this.remoteAddress });
      return;
    }
    if (!this.push(chunk)) this.socket.pause();
  };

  override _read(): void {
    if (!this.#violated) this.socket.resume();
  }

  /** Holds taken and not settled yet. */
  get holds(): number {
    return this.#taken - this.#released - (this.#settledAhead?.size ?? 0);
  }

  /**
   * Holds back every byte written from now on until `until` resolves, and after the holds taken
   * before it: this is how a PUBACK written by the broker waits for the commit of its message
   * while the broker goes on reading the connection's next packets. `onSettled` gets its value
   * first. If `until` rejects, the connection is destroyed and what was held is never sent, so
   * the client publishes again.
   */
  hold<T>(until: Promise<T>, onSettled?: (value: T) => void): void {
    const id = ++this.#taken;
    until.then(
      (value) => {
        try {
          onSettled?.(value);
        } catch (err) {
          // As if the commit had failed: nothing held is sent, the client publishes again.
          this.destroy(err instanceof Error ? err : new Error(String(err)));
        }
        this.#settle(id);
      },
      (err: unknown) => {
        // Destroyed first: the writes it held are dropped, never sent.
        this.destroy(err instanceof Error ? err : new Error(String(err)));
        this.#settle(id);
      },
    );
  }

  #settle(id: number): void {
    if (id !== this.#released + 1) {
      this.#settledAhead ??= new Set();
      this.#settledAhead.add(id);
      return;
    }
    this.#released = id;
    while (this.#settledAhead?.delete(this.#released + 1)) this.#released++;
    while (this.#waiting.length > 0 && this.#waiting[0]!.needs <= this.#released) this.#waiting.shift()!.run();
  }

  override _write(chunk: Buffer | string, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#whenOpen(callback, () => this.#toSocket([{ chunk, encoding }], callback));
  }

  override _writev(
    chunks: { chunk: Buffer | string; encoding: BufferEncoding }[],
    callback: (error?: Error | null) => void,
  ): void {
    this.#whenOpen(callback, () => this.#toSocket(chunks, callback));
  }

  /** Runs `write` now, or once the holds taken so far settle; drops it if the stream is destroyed. */
  #whenOpen(callback: (error?: Error | null) => void, write: () => void): void {
    if (this.#released === this.#taken && this.#waiting.length === 0) write();
    else this.#waiting.push({ needs: this.#taken, run: () => (this.destroyed ? callback() : write()) });
  }

  #toSocket(chunks: { chunk: Buffer | string; encoding: BufferEncoding }[], callback: (error?: Error | null) => void) {
    // mqtt-packet corks the stream for each packet: its pieces reach the socket in one syscall.
    // Completing the write only once the socket accepts more keeps its backpressure: aedes waits
    // for 'drain' when write() returns false (and a held write keeps the later ones behind it).
    this.socket.cork();
    let accepted = true;
    for (const { chunk, encoding } of chunks) accepted = this.socket.write(chunk, encoding);
    this.socket.uncork();
    if (accepted) callback();
    else this.socket.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // The error, if any, is this stream's to report; the socket just goes.
    this.socket.destroy();
    callback(error);
  }
}
