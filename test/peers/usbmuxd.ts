/**
 * A stand-in for usbmuxd (we have no iPhone): a unix-socket server speaking its plist protocol.
 * Frames are a 16-byte little-endian header (total length, version 1, message 8 = plist, tag)
 * followed by an XML plist. The XML is written here by hand, the way libplist lays it out, and
 * not with the `plist` package the source uses, so a bug shared by both sides cannot hide.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'plist';

export interface FakeIosDevice {
  udid: string;
  /** Apple's USB product id; 0x12a8 for any modern iPhone, 0x12ab for an iPad. */
  productId?: number;
  connectionType?: 'USB' | 'Network';
}

/** How frames reach the client: one write each, or cut into a few bytes per write. */
export type Delivery = 'whole' | 'split';

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

type Value = string | number | { [key: string]: Value };

function xmlValue(value: Value, indent: string): string {
  if (typeof value === 'number') return `${indent}<integer>${value}</integer>\n`;
  if (typeof value === 'string') return `${indent}<string>${escapeXml(value)}</string>\n`;
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

export class UsbmuxdPeer {
  readonly dir: string;
  readonly socketPath: string;
  /** What Listen answers; non-zero makes the daemon refuse, as usbmuxd does on a bad request. */
  listenResult = 0;
  delivery: Delivery = 'whole';
  /** Every request received, parsed, for assertions on what the client sent. */
  readonly requests: Array<{ tag: number; message: Record<string, unknown> }> = [];

  private server: Server | null = null;
  private readonly listeners = new Set<Socket>();
  private readonly sockets = new Set<Socket>();
  private readonly devices = new Map<number, FakeIosDevice>();
  private nextId = 1;
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
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 16) {
        const length = buffered.readUInt32LE(0);
        if (buffered.length < length) break;
        const tag = buffered.readUInt32LE(12);
        const message = parse(buffered.subarray(16, length).toString('utf8')) as Record<string, unknown>;
        buffered = buffered.subarray(length);
        this.requests.push({ tag, message });
        this.answer(socket, message, tag);
      }
    });
  }

  private answer(socket: Socket, message: Record<string, unknown>, tag: number): void {
    if (message.MessageType !== 'Listen') {
      void this.send(socket, frame({ MessageType: 'Result', Number: 1 }, tag));
      return;
    }
    const reply = [frame({ MessageType: 'Result', Number: this.listenResult }, tag)];
    if (this.listenResult === 0) {
      this.listeners.add(socket);
      // Like usbmuxd: every present device is announced right after the reply.
      for (const [id, device] of this.devices) reply.push(this.attachedFrame(id, device));
    }
    void this.send(socket, Buffer.concat(reply));
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
