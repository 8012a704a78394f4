/**
 * An emulated Android device daemon: a TCP server on 127.0.0.1 that speaks the ADB transport
 * protocol the way adbd does, so the real adb server attaches it with `adb connect 127.0.0.1:PORT`.
 *
 * Only what a host needs to list a device and read its properties is implemented: the CNXN
 * handshake (or an AUTH challenge that is never accepted), and OPEN/OKAY/WRTE/CLSE streams for
 * `shell:getprop [name]` and `shell:dumpsys battery`. Shell v2 is not advertised, so adb falls
 * back to the raw shell service.
 *
 * Wire format (adb's protocol.txt): a 24-byte little-endian header
 *   command, arg0, arg1, data_length, data_check (sum of payload bytes), magic (command ^ 0xffffffff)
 * followed by data_length bytes of payload.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { dumpsysBattery, type AndroidFormat, type BatteryState } from './dumpsys-battery.js';

const A_CNXN = 0x4e584e43;
const A_AUTH = 0x48545541;
const A_OPEN = 0x4e45504f;
const A_OKAY = 0x59414b4f;
const A_CLSE = 0x45534c43;
const A_WRTE = 0x45545257;
const A_SYNC = 0x434e5953;

/** adb 29 (Debian 12) speaks version 0x01000001 and offers 1 MiB payloads; the peer uses the smaller of both sides. */
export const ADB_VERSION = 0x01000001;
export const MAX_PAYLOAD = 1024 * 1024;

const AUTH_TOKEN = 1;
const AUTH_SIGNATURE = 2;
const AUTH_RSAPUBLICKEY = 3;

const HEADER_SIZE = 24;

/**
 * - `device`: answers the handshake, the host lists it as `device`;
 * - `unauthorized`: answers CNXN with an AUTH challenge and rejects every signature and key, so the
 *   host lists it as `unauthorized` (the "Allow USB debugging?" prompt nobody taps);
 * - `silent`: accepts TCP connections but never says a word (a hung phone);
 * - `refuse`: not listening, so connections are refused (a phone that left the network).
 */
export type AdbdMode = 'device' | 'unauthorized' | 'silent' | 'refuse';

export interface AdbdOptions {
  serialno?: string;
  model?: string;
  /** Further system properties; `ro.serialno` and `ro.product.model` come from the fields above. */
  props?: Record<string, string>;
  mode?: AdbdMode;
  /** Delay before answering a shell service, to emulate a slow phone. */
  shellDelayMs?: number;
  /** What `dumpsys battery` reports, in which Android release's layout. */
  battery?: BatteryState;
  batteryFormat?: AndroidFormat;
}

interface Packet {
  command: number;
  arg0: number;
  arg1: number;
  data: Buffer;
}

export function encodePacket(command: number, arg0: number, arg1: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  let check = 0;
  for (const byte of data) check = (check + byte) >>> 0;
  header.writeUInt32LE(command >>> 0, 0);
  header.writeUInt32LE(arg0 >>> 0, 4);
  header.writeUInt32LE(arg1 >>> 0, 8);
  header.writeUInt32LE(data.length, 12);
  header.writeUInt32LE(check, 16);
  header.writeUInt32LE((command ^ 0xffffffff) >>> 0, 20);
  return Buffer.concat([header, data]);
}

/** One host connection: its own stream ids and the streams it has open. */
class Session {
  private buffer: Buffer = Buffer.alloc(0);
  private online = false;
  private nextLocalId = 1;
  private peerMaxPayload = MAX_PAYLOAD;
  /** Streams with data waiting for the host's OKAY before the next WRTE (adb allows one write in flight). */
  private readonly streams = new Map<
    number,
    { remoteId: number; pending: Buffer[]; awaitingOkay: boolean; closeWhenDrained: boolean }
  >();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly daemon: EmulatedAdbd,
    readonly socket: net.Socket,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      for (const timer of this.timers) clearTimeout(timer);
      this.timers.clear();
    });
  }

  private send(command: number, arg0: number, arg1: number, data?: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(encodePacket(command, arg0, arg1, data));
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    while (this.buffer.length >= HEADER_SIZE) {
      const command = this.buffer.readUInt32LE(0);
      const length = this.buffer.readUInt32LE(12);
      const magic = this.buffer.readUInt32LE(20);
      if ((command ^ 0xffffffff) >>> 0 !== magic || length > MAX_PAYLOAD) {
        // adbd drops a connection that sends garbage; so do we.
        this.socket.destroy();
        return;
      }
      if (this.buffer.length < HEADER_SIZE + length) return;
      const packet: Packet = {
        command,
        arg0: this.buffer.readUInt32LE(4),
        arg1: this.buffer.readUInt32LE(8),
        data: this.buffer.subarray(HEADER_SIZE, HEADER_SIZE + length),
      };
      this.buffer = this.buffer.subarray(HEADER_SIZE + length);
      this.onPacket(packet);
    }
  }

  private onPacket(packet: Packet): void {
    const mode = this.daemon.mode;
    if (mode === 'silent' || mode === 'refuse') return;
    switch (packet.command) {
      case A_CNXN:
        this.peerMaxPayload = Math.min(MAX_PAYLOAD, packet.arg1 || MAX_PAYLOAD);
        if (mode === 'unauthorized') {
          this.send(A_AUTH, AUTH_TOKEN, 0, randomBytes(20));
        } else {
          this.online = true;
          this.daemon.lastHandshakeAt = performance.now();
          this.send(A_CNXN, ADB_VERSION, MAX_PAYLOAD, Buffer.from(this.daemon.banner()));
        }
        return;
      case A_AUTH:
        // Every signature is rejected with a fresh challenge; the public key (the host's last resort)
        // would raise the prompt on a phone, which nobody answers here.
        if (packet.arg0 === AUTH_SIGNATURE) this.send(A_AUTH, AUTH_TOKEN, 0, randomBytes(20));
        else if (packet.arg0 === AUTH_RSAPUBLICKEY) this.daemon.keysOffered += 1;
        return;
      case A_OPEN:
        if (!this.online) return;
        this.open(packet.arg0, packet.data.toString('utf8').replace(/\0+$/, ''));
        return;
      case A_OKAY: {
        const stream = this.streams.get(packet.arg1);
        if (!stream) return;
        stream.awaitingOkay = false;
        this.flush(packet.arg1);
        return;
      }
      case A_WRTE: {
        // Shell input is ignored, but every write is acknowledged or the host stalls the stream.
        const stream = this.streams.get(packet.arg1);
        if (stream) this.send(A_OKAY, packet.arg1, packet.arg0);
        return;
      }
      case A_CLSE: {
        const stream = this.streams.get(packet.arg1);
        if (stream) {
          this.streams.delete(packet.arg1);
          this.send(A_CLSE, packet.arg1, stream.remoteId);
        }
        return;
      }
      case A_SYNC:
      default:
        return;
    }
  }

  private open(remoteId: number, service: string): void {
    const output = this.daemon.runService(service);
    const isDumpsys = /^shell:\s*dumpsys\b/.test(service);
    if (output === null) {
      // Unknown service: adbd answers an OPEN it cannot serve with CLSE(0, remote-id).
      this.send(A_CLSE, 0, remoteId);
      return;
    }
    const localId = this.nextLocalId++;
    this.streams.set(localId, { remoteId, pending: [], awaitingOkay: false, closeWhenDrained: false });
    const answer = () => {
      const stream = this.streams.get(localId);
      if (!stream || this.socket.destroyed) return;
      this.send(A_OKAY, localId, remoteId);
      const data = Buffer.from(output, 'utf8');
      for (let offset = 0; offset < data.length; offset += this.peerMaxPayload) {
        stream.pending.push(data.subarray(offset, offset + this.peerMaxPayload));
      }
      stream.closeWhenDrained = true;
      this.flush(localId);
    };
    const delay = isDumpsys ? this.daemon.dumpsysDelayMs : this.daemon.shellDelayMs;
    if (delay > 0) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        answer();
      }, delay);
      this.timers.add(timer);
    } else {
      answer();
    }
  }

  private flush(localId: number): void {
    const stream = this.streams.get(localId);
    if (!stream || stream.awaitingOkay) return;
    const next = stream.pending.shift();
    if (next) {
      stream.awaitingOkay = true;
      this.send(A_WRTE, localId, stream.remoteId, next);
      return;
    }
    if (stream.closeWhenDrained) {
      // The host answers with its own CLSE, which finds the stream gone and is ignored.
      this.streams.delete(localId);
      this.send(A_CLSE, localId, stream.remoteId);
    }
  }
}

export class EmulatedAdbd {
  private server: net.Server | null = null;
  private readonly sessions = new Set<Session>();
  private props: Map<string, string>;
  private _port = 0;
  mode: AdbdMode;
  shellDelayMs: number;
  /** Delay before answering `dumpsys`, to emulate a phone whose services hang while adb still lists it. */
  dumpsysDelayMs = 0;
  battery: BatteryState;
  batteryFormat: AndroidFormat;
  dumpsysCalls = 0;
  /** How many connections the host made, and how many getprop services it ran (for assertions). */
  connections = 0;
  getpropCalls = 0;
  keysOffered = 0;
  /** performance.now() of the last CNXN answer: the moment the host can list this daemon as `device`. */
  lastHandshakeAt = 0;

  private constructor(options: AdbdOptions) {
    this.mode = options.mode ?? 'device';
    this.shellDelayMs = options.shellDelayMs ?? 0;
    this.battery = options.battery ?? {};
    this.batteryFormat = options.batteryFormat ?? '14';
    this.props = new Map(
      Object.entries({
        'ro.product.name': 'labhook_emu',
        'ro.product.device': 'emu',
        'ro.product.manufacturer': 'Labhook',
        'ro.build.version.release': '14',
        'ro.build.version.sdk': '34',
        ...options.props,
        'ro.serialno': options.serialno ?? `EMU${randomBytes(6).toString('hex').toUpperCase()}`,
        'ro.product.model': options.model ?? 'Labhook Emulated Phone',
      }),
    );
  }

  static async start(options: AdbdOptions = {}): Promise<EmulatedAdbd> {
    const daemon = new EmulatedAdbd(options);
    await daemon.listen(0);
    if (daemon.mode === 'refuse') await daemon.unlisten();
    return daemon;
  }

  get port(): number {
    return this._port;
  }

  /** The adb serial this daemon gets after `adb connect`. */
  get serial(): string {
    return `127.0.0.1:${this._port}`;
  }

  /** The adb serial this daemon gets when it is announced as an emulator (AdbServer.registerEmulator). */
  get emulatorSerial(): string {
    return `emulator-${this._port - 1}`;
  }

  get serialno(): string {
    return this.props.get('ro.serialno')!;
  }

  get model(): string {
    return this.props.get('ro.product.model')!;
  }

  setProp(name: string, value: string): void {
    this.props.set(name, value);
  }

  /**
   * Changes how the daemon behaves. Leaving `device`/`unauthorized` for another mode drops the open
   * connections (a phone that vanished or revoked the host); `refuse` also stops listening; coming
   * back from `refuse` listens again on the same port so adb's reconnect attempts find it.
   */
  async setMode(mode: AdbdMode): Promise<void> {
    const previous = this.mode;
    this.mode = mode;
    if (mode === previous) return;
    this.drop();
    if (mode === 'refuse') await this.unlisten();
    else if (!this.server) await this.listen(this._port);
  }

  /** Closes every open host connection at once (the socket dies; the mode stays). */
  drop(): void {
    for (const session of this.sessions) session.socket.destroy();
    this.sessions.clear();
  }

  get openConnections(): number {
    return this.sessions.size;
  }

  async close(): Promise<void> {
    this.drop();
    await this.unlisten();
  }

  banner(): string {
    const pick = ['ro.product.name', 'ro.product.model', 'ro.product.device'];
    const props = pick.map((name) => `${name}=${this.props.get(name) ?? ''}`).join(';');
    return `device::${props};features=cmd,stat_v2`;
  }

  /** The output of a service, or null when this daemon does not offer it. */
  runService(service: string): string | null {
    const match = /^shell:(.*)$/s.exec(service);
    if (!match) return null;
    const argv = match[1].trim().split(/\s+/).filter(Boolean);
    if (argv[0] === 'dumpsys' && argv[1] === 'battery') {
      this.dumpsysCalls += 1;
      return dumpsysBattery(this.batteryFormat, this.battery);
    }
    if (argv[0] !== 'getprop') return argv.length ? `/system/bin/sh: ${argv[0]}: inaccessible or not found\n` : '';
    this.getpropCalls += 1;
    if (argv[1] !== undefined) return `${this.props.get(argv[1]) ?? ''}\n`;
    return [...this.props.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, value]) => `[${name}]: [${value}]\n`)
      .join('');
  }

  private listen(port: number): Promise<void> {
    const server = net.createServer((socket) => {
      this.connections += 1;
      const session = new Session(this, socket);
      this.sessions.add(session);
      socket.on('close', () => this.sessions.delete(session));
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
        server.off('error', reject);
        this.server = server;
        this._port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  private unlisten(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
