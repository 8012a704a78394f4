/**
 * A stand-in for usbmuxd (we have no iPhone): a unix-socket server speaking its plist protocol.
 * Frames are a 16-byte little-endian header (total length, version 1, message 8 = plist, tag)
 * followed by an XML plist. The XML is written here by hand, the way libplist lays it out, and
 * not with the `plist` package the source uses, so a bug shared by both sides cannot hide.
 *
 * Behind it, each device has an emulated lockdownd: `ReadPairRecord` hands out the host's pairing,
 * `Connect` to port 62078 (network byte order) turns the connection into a tunnel that speaks
 * lockdown's framing (4-byte big-endian length + XML plist): QueryType, StartSession (the HostID
 * must be the one the device trusts; the session then switches to TLS with the device's
 * certificate and requires the pairing's root certificate from the host), GetValue, StopSession.
 */
import { randomUUID, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'plist';
import type { Pairing } from './pair-record.js';

export interface FakeIosDevice {
  udid: string;
  /** Apple's USB product id; 0x12a8 for any modern iPhone, 0x12ab for an iPad. */
  productId?: number;
  connectionType?: 'USB' | 'Network';
  /** The `com.apple.mobile.battery` domain lockdownd answers in a session. */
  battery?: { [key: string]: number | boolean };
  /** The pairing this device trusts; usbmuxd holds the host's copy once `pair()` is called. */
  trusts?: Pairing;
  /** `silent`: lockdownd accepts the tunnel and never answers (a hung device). */
  lockdown?: 'answer' | 'silent';
}

/** How frames reach the client: one write each, or cut into a few bytes per write. */
export type Delivery = 'whole' | 'split';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

type Value = string | number | boolean | Buffer | { [key: string]: Value };

function xmlValue(value: Value, indent: string): string {
  if (typeof value === 'number') return `${indent}<integer>${value}</integer>\n`;
  if (typeof value === 'string') return `${indent}<string>${escapeXml(value)}</string>\n`;
  if (typeof value === 'boolean') return `${indent}<${value}/>\n`;
  if (Buffer.isBuffer(value)) return `${indent}<data>\n${indent}${value.toString('base64')}\n${indent}</data>\n`;
  let out = `${indent}<dict>\n`;
  for (const [key, inner] of Object.entries(value)) {
    out += `${indent}\t<key>${escapeXml(key)}</key>\n${xmlValue(inner, `${indent}\t`)}`;
  }
  return `${out}${indent}</dict>\n`;
}

export function plistXml(value: { [key: string]: Value }): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
    '<plist version="1.0">\n' +
    xmlValue(value, '') +
    '</plist>\n'
  );
}

export function frame(value: { [key: string]: Value }, tag: number): Buffer {
  const body = Buffer.from(plistXml(value), 'utf8');
  const out = Buffer.alloc(16 + body.length);
  out.writeUInt32LE(out.length, 0);
  out.writeUInt32LE(1, 4);
  out.writeUInt32LE(8, 8);
  out.writeUInt32LE(tag, 12);
  body.copy(out, 16);
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const LOCKDOWN_PORT_NETWORK_ORDER = ((62078 & 0xff) << 8) | (62078 >> 8);

/** The pair record as usbmuxd hands it out: the host's side of a pairing. */
function pairRecordXml(pairing: Pairing): Buffer {
  return Buffer.from(
    plistXml({
      DeviceCertificate: pairing.device.cert,
      HostCertificate: pairing.host.cert,
      HostID: pairing.hostId,
      HostPrivateKey: pairing.host.key,
      RootCertificate: pairing.root.cert,
      RootPrivateKey: pairing.root.key,
      SystemBUID: pairing.systemBuid,
      WiFiMACAddress: '00:11:22:33:44:55',
    }),
    'utf8',
  );
}

function lockdownFrame(value: { [key: string]: Value }): Buffer {
  const body = Buffer.from(plistXml(value), 'utf8');
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

export class UsbmuxdPeer {
  readonly dir: string;
  readonly socketPath: string;
  /** What Listen answers; non-zero makes the daemon refuse, as usbmuxd does on a bad request. */
  listenResult = 0;
  delivery: Delivery = 'whole';
  /** Every request received, parsed, for assertions on what the client sent. */
  readonly requests: Array<{ tag: number; message: Record<string, unknown> }> = [];
  /** Every lockdown request received through a tunnel, with whether it came over TLS. */
  readonly lockdownRequests: Array<{ udid: string; tls: boolean; message: Record<string, unknown> }> = [];
  /** The pair records usbmuxd holds, by UDID. */
  private readonly records = new Map<string, Pairing>();

  private server: Server | null = null;
  private readonly listeners = new Set<Socket>();
  private readonly sockets = new Set<Socket>();
  private readonly devices = new Map<number, FakeIosDevice>();
  private nextId = 1;
  /** Lockdown sessions that switched to TLS with the right host certificate. */
  tlsSessions = 0;
  /** Writes are queued per socket so split deliveries never interleave. */
  private readonly queues = new Map<Socket, Promise<void>>();

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'labhook-usbmuxd-'));
    this.socketPath = join(this.dir, 'usbmuxd');
  }

  /** Clients that sent Listen and were accepted. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  async start(): Promise<void> {
    if (this.server) return;
    rmSync(this.socketPath, { force: true });
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, () => resolve());
    });
    this.server = server;
  }

  /**
   * Stops like a daemon that exits: connections drop and the socket file goes away. The real
   * usbmuxd numbers devices afresh on its next start, so a restart renumbers them too.
   */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.listeners.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
    const present = [...this.devices.values()];
    this.devices.clear();
    this.nextId = 1;
    for (const device of present) this.devices.set(this.nextId++, device);
  }

  /** Stops and removes the temp dir. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Plugs devices in; each listener gets their Attached messages in one write. Returns their DeviceIDs. */
  async attach(...devices: FakeIosDevice[]): Promise<number[]> {
    const ids: number[] = [];
    const frames: Buffer[] = [];
    for (const device of devices) {
      const id = this.nextId++;
      this.devices.set(id, device);
      ids.push(id);
      frames.push(this.attachedFrame(id, device));
    }
    await this.broadcast(Buffer.concat(frames));
    return ids;
  }

  async detach(...ids: number[]): Promise<void> {
    const frames: Buffer[] = [];
    for (const id of ids) {
      if (!this.devices.delete(id)) throw new Error(`no device ${id}`);
      frames.push(frame({ MessageType: 'Detached', DeviceID: id }, 0));
    }
    await this.broadcast(Buffer.concat(frames));
  }

  /** usbmuxd keeps this pairing for the device (what a host that was trusted has). */
  pair(udid: string, pairing: Pairing): void {
    this.records.set(udid, pairing);
  }

  unpair(udid: string): void {
    this.records.delete(udid);
  }

  idOf(udid: string): number | undefined {
    for (const [id, device] of this.devices) if (device.udid === udid) return id;
    return undefined;
  }

  /** Sends raw bytes to every listener, for malformed-input tests. */
  async sendRaw(bytes: Buffer): Promise<void> {
    await this.broadcast(bytes);
  }

  private attachedFrame(id: number, device: FakeIosDevice): Buffer {
    const connectionType = device.connectionType ?? 'USB';
    const properties: { [key: string]: Value } =
      connectionType === 'USB'
        ? {
            ConnectionSpeed: 480000000,
            ConnectionType: 'USB',
            DeviceID: id,
            LocationID: 0x14100000 + id,
            ProductID: device.productId ?? 0x12a8,
            SerialNumber: device.udid,
            USBSerialNumber: device.udid.replace(/-/g, ''),
          }
        : {
            ConnectionType: 'Network',
            DeviceID: id,
            EscapedFullServiceName: `${device.udid}._apple-mobdev2._tcp.local.`,
            InterfaceIndex: 2,
            SerialNumber: device.udid,
          };
    return frame({ DeviceID: id, MessageType: 'Attached', Properties: properties }, 0);
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    let buffered = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.listeners.delete(socket);
      this.queues.delete(socket);
    });
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 16) {
        const length = buffered.readUInt32LE(0);
        if (buffered.length < length) break;
        const tag = buffered.readUInt32LE(12);
        const message = parse(buffered.subarray(16, length).toString('utf8')) as Record<string, unknown>;
        buffered = buffered.subarray(length);
        this.requests.push({ tag, message });
        const tunnel = this.answer(socket, message, tag);
        if (tunnel) {
          // From here on the connection belongs to the device's lockdownd.
          socket.off('data', onData);
          this.lockdown(socket, tunnel, buffered);
          return;
        }
      }
    };
    socket.on('data', onData);
  }

  /** Answers one usbmuxd request; returns the device when a Connect made this connection a tunnel. */
  private answer(socket: Socket, message: Record<string, unknown>, tag: number): FakeIosDevice | null {
    if (message.MessageType === 'ReadPairRecord') {
      const pairing = this.records.get(String(message.PairRecordID));
      // usbmuxd answers a missing record with a Result (libusbmuxd returns its negated number).
      void this.send(
        socket,
        pairing
          ? frame({ PairRecordData: pairRecordXml(pairing) }, tag)
          : frame({ MessageType: 'Result', Number: 2 }, tag),
      );
      return null;
    }
    if (message.MessageType === 'Connect') {
      const device = this.devices.get(Number(message.DeviceID));
      const number = !device ? 2 : message.PortNumber !== LOCKDOWN_PORT_NETWORK_ORDER ? 3 : 0;
      void this.send(socket, frame({ MessageType: 'Result', Number: number }, tag));
      return number === 0 ? device! : null;
    }
    if (message.MessageType !== 'Listen') {
      void this.send(socket, frame({ MessageType: 'Result', Number: 1 }, tag));
      return null;
    }
    const reply = [frame({ MessageType: 'Result', Number: this.listenResult }, tag)];
    if (this.listenResult === 0) {
      this.listeners.add(socket);
      // Like usbmuxd: every present device is announced right after the reply.
      for (const [id, device] of this.devices) reply.push(this.attachedFrame(id, device));
    }
    void this.send(socket, Buffer.concat(reply));
    return null;
  }

  /** The device's lockdownd on a tunnelled connection. */
  private lockdown(plain: Socket, device: FakeIosDevice, initial: Buffer): void {
    let stream: Socket | TLSSocket = plain;
    let buffered = initial;
    let session: string | null = null;
    const reply = (value: { [key: string]: Value }) => {
      if (!stream.destroyed) stream.write(lockdownFrame(value));
    };
    const handle = (message: Record<string, unknown>) => {
      this.lockdownRequests.push({ udid: device.udid, tls: stream !== plain, message });
      if (device.lockdown === 'silent') return;
      const request = String(message.Request);
      switch (request) {
        case 'QueryType':
          reply({ Request: request, Type: 'com.apple.mobile.lockdown' });
          return;
        case 'StartSession': {
          const trusted = device.trusts;
          if (!trusted || message.HostID !== trusted.hostId) {
            reply({ Request: request, Error: 'InvalidHostID' });
            return;
          }
          session = randomUUID().toUpperCase();
          reply({ Request: request, SessionID: session, EnableSessionSSL: true });
          startTls(trusted);
          return;
        }
        case 'GetValue':
          if (
            session === null ||
            stream === plain ||
            message.Domain !== 'com.apple.mobile.battery' ||
            !device.battery
          ) {
            reply({ Request: request, Domain: String(message.Domain), Error: 'MissingValue' });
            return;
          }
          reply({ Request: request, Domain: 'com.apple.mobile.battery', Value: device.battery });
          return;
        case 'StopSession':
          session = null;
          reply({ Request: request });
          return;
        default:
          reply({ Request: request, Error: 'InvalidRequest' });
      }
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4) {
        const length = buffered.readUInt32BE(0);
        if (buffered.length < 4 + length) return;
        const body = buffered.subarray(4, 4 + length).toString('utf8');
        buffered = buffered.subarray(4 + length);
        handle(parse(body) as Record<string, unknown>);
      }
    };
    const startTls = (pairing: Pairing) => {
      plain.off('data', onData);
      const secure = new TLSSocket(plain, {
        isServer: true,
        cert: pairing.device.cert,
        key: pairing.device.key,
        requestCert: true,
        rejectUnauthorized: false,
      });
      secure.on('error', () => plain.destroy());
      secure.once('secure', () => {
        // lockdownd knows the host by the root certificate of their pairing.
        const presented = secure.getPeerX509Certificate();
        if (!presented || presented.fingerprint256 !== new X509Certificate(pairing.root.cert).fingerprint256) {
          secure.destroy();
          return;
        }
        this.tlsSessions += 1;
      });
      stream = secure;
      buffered = Buffer.alloc(0);
      secure.on('data', onData);
    };
    plain.on('data', onData);
    if (buffered.length > 0) onData(Buffer.alloc(0));
  }

  private async broadcast(bytes: Buffer): Promise<void> {
    await Promise.all([...this.listeners].map((socket) => this.send(socket, bytes)));
  }

  private send(socket: Socket, bytes: Buffer): Promise<void> {
    const previous = this.queues.get(socket) ?? Promise.resolve();
    const next = previous.then(async () => {
      if (this.delivery === 'whole') {
        if (!socket.destroyed) socket.write(bytes);
        return;
      }
      // Small pieces with a pause between them arrive as separate reads, cutting headers too.
      for (let at = 0; at < bytes.length && !socket.destroyed; at += 7) {
        socket.write(bytes.subarray(at, at + 7));
        await sleep(1);
      }
    });
    this.queues.set(socket, next);
    return next;
  }
}
