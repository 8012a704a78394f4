/**
 * iOS devices as usbmuxd sees them. usbmuxd speaks length-prefixed XML plists over a unix socket:
 * we send `Listen` once per connection, then it pushes `Attached` (with the UDID as SerialNumber)
 * and `Detached` (DeviceID only) for as long as the connection lives.
 */
import { createConnection, type Socket } from 'node:net';
import { build, parse, type PlistValue } from 'plist';
import type { Logger } from '../../log.js';
import type { DeviceSink, DeviceSource, Presence, SourceState } from '../model.js';
import { backoffMs, USBMUX } from '../timing.js';

const HEADER_BYTES = 16;
const PLIST_VERSION = 1;
const MESSAGE_PLIST = 8;
/** A usbmuxd message is a few hundred bytes; anything this large means we lost the framing. */
const MAX_FRAME_BYTES = 1 << 20;

/** Apple's USB product ids (as in Linux's ipheth driver). Every iPhone since the 5 shares 0x12a8. */
const PRODUCT_NAMES: ReadonlyMap<number, string> = new Map([
  [0x1290, 'iPhone'],
  [0x1292, 'iPhone 3G'],
  [0x1294, 'iPhone 3GS'],
  [0x1297, 'iPhone 4'],
  [0x129c, 'iPhone 4'],
  [0x12a0, 'iPhone 4S'],
  [0x12a8, 'iPhone'],
  [0x129a, 'iPad'],
  [0x12a2, 'iPad 2'],
  [0x12a6, 'iPad (3rd generation)'],
  [0x12aa, 'iPod touch'],
  [0x12ab, 'iPad'],
]);

export type PlistDict = { [key: string]: PlistValue };

export function encodeUsbmuxFrame(message: PlistDict, tag: number): Buffer {
  const payload = Buffer.from(build(message), 'utf8');
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32LE(HEADER_BYTES + payload.length, 0);
  header.writeUInt32LE(PLIST_VERSION, 4);
  header.writeUInt32LE(MESSAGE_PLIST, 8);
  header.writeUInt32LE(tag, 12);
  return Buffer.concat([header, payload]);
}

export function deviceNameFor(productId: number | undefined): string {
  return (productId !== undefined && PRODUCT_NAMES.get(productId)) || 'iOS device';
}

/** A plist dictionary (not an array, date or data). */
export function isDict(value: unknown): value is PlistDict {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof Date) &&
    !(value instanceof Uint8Array)
  );
}

export class UsbmuxSource implements DeviceSource {
  readonly name = 'usbmux' as const;
  private readonly socketPath: string;
  private readonly sink: DeviceSink;
  private readonly log: Logger;

  private stopped = true;
  private socket: Socket | null = null;
  private buffered: Buffer = Buffer.alloc(0);
  private listening = false;
  private tag = 0;
  private listenTag = -1;
  private retries = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private holdTimer: NodeJS.Timeout | null = null;
  private settleTimer: NodeJS.Timeout | null = null;
  private settleDeadline = 0;
  /** What we last reported, by DeviceID. */
  private devices = new Map<number, Presence>();
  /** The list a fresh connection is building while its Attached burst arrives; null once settled. */
  private incoming: Map<number, Presence> | null = null;
  private outageLogged = false;
  private lastError = '';
  private current: SourceState = { state: 'off', detail: 'not started' };

  constructor(options: { socketPath: string; sink: DeviceSink; log: Logger }) {
    this.socketPath = options.socketPath;
    this.sink = options.sink;
    this.log = options.log;
  }

  async boot(): Promise<void> {
    this.stopped = false;
    this.current = { state: 'unavailable', detail: `connecting to usbmuxd at ${this.socketPath}` };
    // Nothing is known yet, as after losing the daemon: if it does not list its devices within the
    // hold, the source reports none (a complete report: the tracker need not wait for it any more).
    this.hold();
    // Boot never waits on the daemon: it may start later, and the source picks it up then.
    this.connect();
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const timer of [this.retryTimer, this.holdTimer, this.settleTimer]) if (timer) clearTimeout(timer);
    this.retryTimer = this.holdTimer = this.settleTimer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.destroy();
      });
    }
    this.current = { state: 'off', detail: 'stopped' };
  }

  status(): SourceState {
    return { ...this.current };
  }

  private connect(): void {
    this.retryTimer = null;
    if (this.stopped) return;
    const socket = createConnection(this.socketPath);
    this.socket = socket;
    this.buffered = Buffer.alloc(0);
    this.listening = false;
    socket.on('connect', () => {
      this.listenTag = ++this.tag;
      socket.write(
        encodeUsbmuxFrame(
          { MessageType: 'Listen', ClientVersionString: 'labhook-usbmux', ProgName: 'Labhook', kLibUSBMuxVersion: 3 },
          this.listenTag,
        ),
      );
    });
    socket.on('data', (chunk: Buffer) => this.receive(socket, chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.lastError = this.describe(error);
    });
    socket.on('close', () => this.closed(socket));
  }

  private describe(error: NodeJS.ErrnoException): string {
    switch (error.code) {
      case 'ENOENT':
        return `usbmuxd is not running (no socket at ${this.socketPath})`;
      case 'ECONNREFUSED':
        return `usbmuxd is not running (nothing listens on ${this.socketPath})`;
      case 'EACCES':
        return `no permission to open the usbmuxd socket ${this.socketPath}`;
      default:
        return `usbmuxd at ${this.socketPath}: ${error.message}`;
    }
  }

  private closed(socket: Socket): void {
    if (this.socket !== socket) return;
    this.socket = null;
    const wasListening = this.listening;
    this.listening = false;
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = null;
    this.incoming = null;
    if (this.stopped) return;

    const reason = this.lastError || `usbmuxd at ${this.socketPath} closed the connection`;
    this.lastError = '';
    this.current = { state: 'unavailable', detail: `${reason}; retrying` };
    if (!this.outageLogged) {
      this.outageLogged = true;
      this.log.warn(`iOS devices: ${reason}; retrying in the background`);
    }
    if (wasListening && this.devices.size > 0) this.hold();
    // A daemon that just restarted is usually back within milliseconds; one that is absent is not.
    const delay = wasListening ? USBMUX.reconnectMs : backoffMs(USBMUX.retry, this.retries++);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** The last list stands for holdMs while the daemon is away; then nobody can vouch for its devices. */
  private hold(): void {
    if (this.holdTimer) return;
    this.holdTimer = setTimeout(() => {
      this.holdTimer = null;
      // Reconnected and mid-burst: the settled list replaces this one in a moment.
      if (this.listening) return;
      this.devices = new Map();
      this.report();
    }, USBMUX.holdMs);
  }

  private receive(socket: Socket, chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= HEADER_BYTES && this.socket === socket) {
      const length = this.buffered.readUInt32LE(0);
      if (length < HEADER_BYTES || length > MAX_FRAME_BYTES) {
        this.lastError = `usbmuxd at ${this.socketPath} sent a malformed frame (length ${length})`;
        socket.destroy();
        return;
      }
      if (this.buffered.length < length) return;
      const version = this.buffered.readUInt32LE(4);
      const type = this.buffered.readUInt32LE(8);
      const tag = this.buffered.readUInt32LE(12);
      const payload = this.buffered.subarray(HEADER_BYTES, length);
      this.buffered = this.buffered.subarray(length);
      // Only plist frames carry what we asked for; binary-protocol frames are not ours to read.
      if (version !== PLIST_VERSION || type !== MESSAGE_PLIST) continue;
      let message: PlistValue;
      try {
        message = parse(payload.toString('utf8'));
      } catch (error) {
        this.log.warn(`iOS devices: ignored an unreadable usbmuxd message: ${(error as Error).message}`);
        continue;
      }
      if (isDict(message)) this.handle(socket, message, tag);
    }
  }

  private handle(socket: Socket, message: PlistDict, tag: number): void {
    switch (message.MessageType) {
      case 'Result':
        if (this.listening || tag !== this.listenTag) return;
        if (message.Number !== 0) {
          this.lastError = `usbmuxd at ${this.socketPath} refused Listen (result ${JSON.stringify(message.Number)})`;
          socket.destroy();
          return;
        }
        this.listening = true;
        this.retries = 0;
        this.current = { state: 'running', detail: `listening on ${this.socketPath}` };
        if (this.outageLogged) this.log.info(`iOS devices: usbmuxd at ${this.socketPath} is back`);
        this.outageLogged = false;
        this.incoming = new Map();
        this.settleDeadline = Date.now() + USBMUX.burstMaxMs;
        this.armSettle();
        return;
      case 'Attached': {
        const presence = this.presenceOf(message);
        if (!presence) return;
        this.apply((devices) => devices.set(presence.id, presence.presence));
        return;
      }
      case 'Detached':
        if (typeof message.DeviceID !== 'number') return;
        this.apply((devices) => devices.delete(message.DeviceID as number));
        return;
      default:
        // `Paired` and newer message types carry nothing we report.
        return;
    }
  }

  private apply(change: (devices: Map<number, Presence>) => void): void {
    if (!this.listening) return;
    if (this.incoming) {
      change(this.incoming);
      this.armSettle();
      return;
    }
    change(this.devices);
    this.report();
  }

  private armSettle(): void {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    const wait = Math.max(0, Math.min(USBMUX.burstQuietMs, this.settleDeadline - Date.now()));
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      if (!this.incoming) return;
      this.devices = this.incoming;
      this.incoming = null;
      if (this.holdTimer) clearTimeout(this.holdTimer);
      this.holdTimer = null;
      this.report();
    }, wait);
  }

  private presenceOf(message: PlistDict): { id: number; presence: Presence } | null {
    const properties = isDict(message.Properties) ? message.Properties : {};
    const id = typeof message.DeviceID === 'number' ? message.DeviceID : properties.DeviceID;
    const udid = properties.SerialNumber;
    if (typeof id !== 'number' || typeof udid !== 'string' || udid === '') return null;
    const productId = typeof properties.ProductID === 'number' ? properties.ProductID : undefined;
    const connection = typeof properties.ConnectionType === 'string' ? properties.ConnectionType : 'USB';
    return {
      id,
      presence: {
        key: `usbmux:${id}`,
        udid,
        state: 'ready',
        platform: 'ios',
        name: deviceNameFor(productId),
        detail: connection,
      },
    };
  }

  private report(): void {
    this.sink.reportPresences('usbmux', [...this.devices.values()]);
  }
}
