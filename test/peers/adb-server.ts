/**
 * Debian's real adb server (`/usr/bin/adb`), run in the foreground (`nodaemon server`) on a private
 * port with its own HOME (its adbkey lives there) and TMPDIR, so tests never touch a developer's
 * adb server on 5037 and can SIGKILL it by pid.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/free-port.js';

export const ADB_BIN = '/usr/bin/adb';

/** Sends one smart-socket request (`host:version`) to see that the server answers, not just listens. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('000chost:version'));
    socket.once('data', (chunk) => done(chunk.subarray(0, 4).toString() === 'OKAY'));
  });
}

/**
 * Sends one smart-socket request and resolves once the server has closed the connection (it answers
 * `host:emulator:` with nothing at all); a FAIL is an error.
 */
function hostRequest(port: number, service: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.setTimeout(5000, () => socket.destroy(new Error(`${service}: no answer from the adb server`)));
    socket.once('connect', () => socket.write(service.length.toString(16).padStart(4, '0') + service));
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.once('error', reject);
    socket.once('close', () =>
      answer.startsWith('FAIL') ? reject(new Error(`${service}: ${answer}`)) : resolve(answer),
    );
  });
}

export interface AdbDevice {
  serial: string;
  state: string;
}

export class AdbServer {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  /** Everything the server printed, for diagnosing a failed test. */
  output = '';

  private constructor(
    readonly port: number,
    private readonly root: string,
  ) {}

  /** Makes the temp dirs and picks the port, without starting the server (for "no server yet" tests). */
  static async create(port?: number): Promise<AdbServer> {
    const root = await mkdtemp(join(tmpdir(), 'labhook-adb-'));
    return new AdbServer(port ?? (await freePort()), root);
  }

  static async start(port?: number): Promise<AdbServer> {
    // A port picked by the OS can be taken by someone else before adb binds it; try another.
    for (let attempt = 1; ; attempt++) {
      const server = await AdbServer.create(port);
      try {
        await server.startServer();
        return server;
      } catch (error) {
        await server.stop();
        if (port !== undefined || attempt >= 3) throw error;
      }
    }
  }

  get running(): boolean {
    return this.child !== null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private env(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.root,
      TMPDIR: this.root,
      ANDROID_ADB_SERVER_PORT: String(this.port),
      // The server keeps its RSA key under $HOME/.android; nothing else of the user's is read.
      ANDROID_SDK_HOME: this.root,
      ADB_MDNS: '0',
    };
  }

  /** Starts `adb nodaemon server` on this port and waits until it answers `host:version`. */
  async startServer(): Promise<void> {
    if (this.child) return;
    const child = spawn(ADB_BIN, ['-P', String(this.port), 'nodaemon', 'server'], {
      env: this.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const append = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-64 * 1024);
    };
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    // Should the test process die without its cleanup, the server must not outlive it.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        process.off('exit', killOnExit);
        if (this.child === child) this.child = null;
        resolve();
      });
    });
    const deadline = Date.now() + 15_000;
    while (!(await answers(this.port))) {
      if (!this.child) throw new Error(`adb server exited at start:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`adb server did not answer on port ${this.port}:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGKILL: the server dies without closing anything politely, as a crashed adb does. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.startServer();
  }

  /** Runs the adb client against this server; resolves with stdout (adb prints errors there too). */
  adb(...args: string[]): Promise<string> {
    // The adb client starts a daemonised server of its own when none answers; that one would
    // outlive the test, so the client is only run while our foreground server is up.
    if (!this.child)
      return Promise.reject(new Error(`adb ${args.join(' ')}: the adb server on port ${this.port} is not running`));
    return new Promise((resolve, reject) => {
      execFile(
        ADB_BIN,
        ['-P', String(this.port), ...args],
        { env: this.env(), timeout: 30_000 },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`adb ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
          else resolve(stdout + stderr);
        },
      );
    });
  }

  /**
   * `adb connect`; the client's exit status does not say whether it worked, so the text is checked.
   * "failed to authenticate" still attaches the device (as `unauthorized`), so it is not an error.
   */
  async connect(serial: string): Promise<string> {
    const out = await this.adb('connect', serial);
    if (!/connected to|failed to authenticate/.test(out)) throw new Error(`adb connect ${serial}: ${out.trim()}`);
    return out.trim();
  }

  /**
   * Attaches a daemon the way the Android emulator announces itself (`host:emulator:PORT`): the
   * server connects to it and lists it as `emulator-<PORT-1>`, a serial that is no network address,
   * like a USB phone's. Resolves once the server lists it.
   */
  async registerEmulator(adbPort: number): Promise<string> {
    const serial = `emulator-${adbPort - 1}`;
    await hostRequest(this.port, `host:emulator:${adbPort}`);
    const deadline = Date.now() + 10_000;
    while (!(await this.devices()).some((d) => d.serial === serial)) {
      if (Date.now() > deadline) throw new Error(`the adb server did not list ${serial}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return serial;
  }

  async disconnect(serial: string): Promise<void> {
    const out = await this.adb('disconnect', serial);
    if (!/disconnected/.test(out)) throw new Error(`adb disconnect ${serial}: ${out.trim()}`);
  }

  async devices(): Promise<AdbDevice[]> {
    const out = await this.adb('devices');
    return out
      .split('\n')
      .slice(1)
      .map((line) => line.split('\t'))
      .filter((parts) => parts.length >= 2)
      .map(([serial, state]) => ({ serial: serial, state: state.trim() }));
  }

  async shell(serial: string, command: string): Promise<string> {
    return this.adb('-s', serial, 'shell', command);
  }

  /** Kills the server and removes its temp dirs. */
  async stop(): Promise<void> {
    await this.kill();
    await rm(this.root, { recursive: true, force: true });
  }
}
