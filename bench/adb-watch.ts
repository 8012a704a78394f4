/**
 * Watches the adb server's own device list as closely as a client can: a `host:track-devices`
 * stream plus a `host:devices` poll every few milliseconds (adb 29's tracker can miss offline
 * transitions), stamping when each serial's state first differs. This is "adb's own delay":
 * how long after a change the adb server itself admits it.
 */
import net from 'node:net';
import { nowMs } from './stats.js';

type Listener = (serial: string, state: string | null, at: number) => void;

function parseList(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [serial, state] = line.split('\t');
    if (serial && state) map.set(serial, state.trim());
  }
  return map;
}

function request(service: string): Buffer {
  return Buffer.from(service.length.toString(16).padStart(4, '0') + service);
}

export class AdbWatch {
  private states = new Map<string, string>();
  private readonly listeners = new Set<Listener>();
  private track: net.Socket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private closed = false;

  constructor(
    private readonly port: number,
    private readonly pollMs = 5,
  ) {}

  start(): void {
    const socket = net.connect({ host: '127.0.0.1', port: this.port });
    this.track = socket;
    let buffer = Buffer.alloc(0);
    let okay = false;
    socket.on('connect', () => socket.write(request('host:track-devices')));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!okay) {
        if (buffer.length < 4) return;
        okay = true;
        buffer = buffer.subarray(4);
      }
      while (buffer.length >= 4) {
        const len = parseInt(buffer.subarray(0, 4).toString(), 16);
        if (buffer.length < 4 + len) return;
        this.update(parseList(buffer.subarray(4, 4 + len).toString()));
        buffer = buffer.subarray(4 + len);
      }
    });
    this.timer = setInterval(() => this.poll(), this.pollMs);
  }

  private poll(): void {
    if (this.polling || this.closed) return;
    this.polling = true;
    const socket = net.connect({ host: '127.0.0.1', port: this.port });
    let data = Buffer.alloc(0);
    socket.on('connect', () => socket.write(request('host:devices')));
    socket.on('data', (c: Buffer) => (data = Buffer.concat([data, c])));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.polling = false;
      if (data.subarray(0, 4).toString() !== 'OKAY' || data.length < 8) return;
      const len = parseInt(data.subarray(4, 8).toString(), 16);
      if (data.length < 8 + len) return;
      this.update(parseList(data.subarray(8, 8 + len).toString()));
    });
  }

  private update(list: Map<string, string>): void {
    const at = nowMs();
    for (const [serial, state] of list) {
      if (this.states.get(serial) !== state) for (const l of this.listeners) l(serial, state, at);
    }
    for (const serial of this.states.keys()) if (!list.has(serial)) for (const l of this.listeners) l(serial, null, at);
    this.states = list;
  }

  /** Resolves with the monotonic ms at which `serial` is first listed in `state` (null: absent). */
  waitFor(serial: string, state: string | null, timeoutMs = 30_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const current = this.states.get(serial) ?? null;
      if (current === state) return resolve(nowMs());
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(
          new Error(
            `adb never listed ${serial} as ${state} in ${timeoutMs} ms (now ${this.states.get(serial) ?? 'absent'})`,
          ),
        );
      }, timeoutMs);
      const listener: Listener = (s, st, at) => {
        if (s !== serial || st !== state) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(at);
      };
      this.listeners.add(listener);
    });
  }

  stop(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.track?.destroy();
  }
}
