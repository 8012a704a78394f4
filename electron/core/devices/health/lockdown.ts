/**
 * Reading the battery of a paired iPhone: lockdownd's `com.apple.mobile.battery` domain, reached
 * through usbmuxd the way libimobiledevice does it:
 *  1. usbmuxd `ReadPairRecord` for the UDID: the host's pairing (HostID, SystemBUID, certificates).
 *     No record means the device never trusted this host: nothing can be read.
 *  2. usbmuxd `Connect` to lockdownd's port 62078 (sent in network byte order); after a `Result` of
 *     0 the socket is a tunnel to the device.
 *  3. lockdown messages: a 4-byte big-endian length and an XML plist. `QueryType`, then
 *     `StartSession` with HostID and SystemBUID; the device answers a SessionID and usually
 *     `EnableSessionSSL`, upon which the same socket carries TLS with the pair record's root
 *     certificate as the client's (the device's certificate is not verified: there is nothing to
 *     verify it against but the record itself).
 *  4. `GetValue` of the domain, `StopSession`, close.
 * The battery domain needs the session: without one lockdownd answers only a few public values.
 */
import { createConnection, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { build, parse, type PlistValue } from 'plist';
import { encodeUsbmuxFrame, isDict, type PlistDict } from '../sources/usbmux.js';

export const LOCKDOWN_PORT = 62078;
const LABEL = 'labhook';
const MAX_MESSAGE_BYTES = 1 << 20;

/** A reason the battery could not be read, worded for the operator. */
export class LockdownError extends Error {}

/** Bytes as they arrive, cut into frames by `take`. */
class Reader {
  private buffered = Buffer.alloc(0);
  private waiting: (() => void) | null = null;
  private failure: Error | null = null;

  constructor(stream: Socket | TLSSocket) {
    stream.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake();
    });
    stream.on('error', (error: Error) => this.fail(error));
    stream.on('close', () => this.fail(new LockdownError('the connection closed')));
  }

  /** Stops this reader (the socket is handed to TLS) and returns what it had buffered. */
  detach(stream: Socket): Buffer {
    stream.removeAllListeners('data');
    const rest = this.buffered;
    this.buffered = Buffer.alloc(0);
    return rest;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.();
  }

  async take(size: (buffered: Buffer) => number | null): Promise<Buffer> {
    for (;;) {
      const length = size(this.buffered);
      if (length !== null && this.buffered.length >= length) {
        const out = this.buffered.subarray(0, length);
        this.buffered = this.buffered.subarray(length);
        return out;
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }
}

function parseDict(xml: Buffer, what: string): PlistDict {
  let value: PlistValue;
  try {
    value = parse(xml.toString('utf8'));
  } catch {
    throw new LockdownError(`${what} sent an unreadable answer`);
  }
  if (!isDict(value)) throw new LockdownError(`${what} sent an unexpected answer`);
  return value;
}

/** One usbmuxd request on its own connection: the plist answer (a `Result` or a dict). */
async function usbmuxd(socket: Socket, reader: Reader, message: PlistDict, tag: number): Promise<PlistDict> {
  socket.write(encodeUsbmuxFrame(message, tag));
  const frame = await reader.take((b) => {
    if (b.length < 16) return null;
    const length = b.readUInt32LE(0);
    if (length < 16 || length > MAX_MESSAGE_BYTES) throw new LockdownError('usbmuxd sent a malformed frame');
    return length;
  });
  return parseDict(frame.subarray(16), 'usbmuxd');
}

async function lockdownCall(
  stream: Socket | TLSSocket,
  reader: Reader,
  request: PlistDict & { Request: string },
): Promise<PlistDict> {
  const body = Buffer.from(build({ Label: LABEL, ...request }), 'utf8');
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  stream.write(Buffer.concat([header, body]));
  const message = await reader.take((b) => {
    if (b.length < 4) return null;
    const length = b.readUInt32BE(0);
    if (length > MAX_MESSAGE_BYTES) throw new LockdownError('lockdownd sent a malformed message');
    return 4 + length;
  });
  const answer = parseDict(message.subarray(4), 'lockdownd');
  if (typeof answer.Error === 'string')
    throw new LockdownError(describeLockdownError(String(request.Request), answer.Error));
  return answer;
}

function describeLockdownError(request: string, code: string): string {
  switch (code) {
    case 'InvalidHostID':
      return 'the device no longer trusts this host (unlock it and tap Trust to pair again)';
    case 'PasswordProtected':
      return 'the device is locked with a passcode (unlock it once after plugging in)';
    case 'PairingDialogResponsePending':
      return 'the device is waiting for someone to tap Trust';
    default:
      return `lockdownd refused ${request}: ${code}`;
  }
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) =>
      reject(new LockdownError(`usbmuxd is not reachable at ${path} (${error.code ?? error.message})`)),
    );
  });
}

function pem(value: PlistValue | undefined, name: string): Buffer {
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  throw new LockdownError(`the pair record has no ${name}`);
}

export interface LockdownTarget {
  socketPath: string;
  /** usbmuxd's DeviceID for the device (from its `Attached` message). */
  deviceId: number;
  udid: string;
}

/**
 * Reads one lockdown domain. `signal` aborts it (a timeout or shutdown): every socket is destroyed
 * and the promise rejects. Rejects with a LockdownError whose message says why it could not.
 */
export async function readLockdownDomain(
  target: LockdownTarget,
  domain: string,
  signal: AbortSignal,
): Promise<PlistDict> {
  const sockets: Array<Socket | TLSSocket> = [];
  const destroyAll = () => sockets.forEach((s) => s.destroy());
  signal.addEventListener('abort', destroyAll, { once: true });
  try {
    // 1. The pair record, from usbmuxd (which keeps them: /var/lib/lockdown, /var/db/lockdown).
    const control = await openSocket(target.socketPath);
    sockets.push(control);
    const answer = await usbmuxd(
      control,
      new Reader(control),
      { MessageType: 'ReadPairRecord', PairRecordID: target.udid, ProgName: 'Labhook', ClientVersionString: LABEL },
      1,
    );
    control.destroy();
    if (!(answer.PairRecordData instanceof Uint8Array))
      throw new LockdownError('not paired with this host (unlock the device and tap Trust)');
    const record = parseDict(Buffer.from(answer.PairRecordData), 'the pair record');
    const hostId = record.HostID;
    const buid = record.SystemBUID;
    if (typeof hostId !== 'string' || typeof buid !== 'string')
      throw new LockdownError('the pair record has no HostID or SystemBUID');

    // 2. A tunnel to lockdownd.
    const tunnel = await openSocket(target.socketPath);
    sockets.push(tunnel);
    const reader = new Reader(tunnel);
    const port = ((LOCKDOWN_PORT & 0xff) << 8) | (LOCKDOWN_PORT >> 8);
    const connected = await usbmuxd(
      tunnel,
      reader,
      { MessageType: 'Connect', DeviceID: target.deviceId, PortNumber: port, ProgName: 'Labhook' },
      2,
    );
    if (connected.Number !== 0)
      throw new LockdownError(`usbmuxd could not connect to lockdownd (result ${JSON.stringify(connected.Number)})`);

    // 3. The session.
    const type = await lockdownCall(tunnel, reader, { Request: 'QueryType' });
    if (type.Type !== 'com.apple.mobile.lockdown') throw new LockdownError('port 62078 is not lockdownd');
    const session = await lockdownCall(tunnel, reader, {
      Request: 'StartSession',
      HostID: hostId,
      SystemBUID: buid,
    });
    let stream: Socket | TLSSocket = tunnel;
    let sessionReader = reader;
    if (session.EnableSessionSSL === true) {
      const leftover = reader.detach(tunnel);
      if (leftover.length > 0) tunnel.unshift(leftover);
      const secure = tlsConnect({
        socket: tunnel,
        cert: pem(record.RootCertificate, 'RootCertificate'),
        key: pem(record.RootPrivateKey, 'RootPrivateKey'),
        // Devices sign with old algorithms and present a certificate only the record vouches for.
        rejectUnauthorized: false,
        minVersion: 'TLSv1',
        ciphers: 'DEFAULT:@SECLEVEL=0',
      });
      sockets.push(secure);
      sessionReader = new Reader(secure);
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', () => resolve());
        secure.once('error', (error: Error) => reject(new LockdownError(`the TLS session failed: ${error.message}`)));
      });
      stream = secure;
    }

    // 4. The domain.
    const value = await lockdownCall(stream, sessionReader, { Request: 'GetValue', Domain: domain });
    if (typeof session.SessionID === 'string')
      await lockdownCall(stream, sessionReader, { Request: 'StopSession', SessionID: session.SessionID }).catch(
        () => {},
      );
    if (!isDict(value.Value)) throw new LockdownError(`lockdownd has no ${domain} values`);
    return value.Value;
  } catch (error) {
    if (signal.aborted) throw new LockdownError('no answer in time', { cause: error });
    if (error instanceof LockdownError) throw error;
    throw new LockdownError((error as Error).message, { cause: error });
  } finally {
    signal.removeEventListener('abort', destroyAll);
    destroyAll();
  }
}
