/**
 * The real Appium 3 server from node_modules, with @appium/fake-driver, on a free loopback port.
 *
 * Appium 3 treats a folder whose package.json depends on `appium` as its home and loads the
 * drivers listed among that package's dependencies from its node_modules, so pointing APPIUM_HOME
 * at the project root finds the fake driver without any `appium driver install` (and no network).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const appiumMain = fileURLToPath(new URL('../../node_modules/appium/index.js', import.meta.url));
export const FAKE_APP = fileURLToPath(new URL('../fixtures/fake-app.xml', import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class AppiumServer {
  /** Everything the server printed, for diagnosing a failed test. */
  output = '';
  private readonly exited: Promise<void>;
  private running = true;

  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => (this.running = false));
  }

  /**
   * Starts Appium and waits until `/status` says ready. `sessionDiscovery: false` leaves out
   * `--allow-insecure '*:session_discovery'`, so `GET /appium/sessions` answers 500.
   */
  static async start(options: { sessionDiscovery?: boolean } = {}): Promise<AppiumServer> {
    const port = await freePort();
    const args = [
      appiumMain,
      'server',
      '--address',
      '127.0.0.1',
      '--port',
      String(port),
      '--log-level',
      'warn',
      '--log-no-colors',
    ];
    if (options.sessionDiscovery !== false) args.push('--allow-insecure', '*:session_discovery');
    const child = spawn(process.execPath, args, {
      cwd: root,
      env: { ...process.env, APPIUM_HOME: root },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new AppiumServer(`http://127.0.0.1:${port}`, child);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (!server.running) throw new Error(`appium exited before it was ready:\n${server.output}`);
      try {
        const response = await request(`${server.url}/status`, { headersTimeout: 1000, bodyTimeout: 1000 });
        const body = (await response.body.json()) as { value?: { ready?: boolean } };
        if (response.statusCode === 200 && body.value?.ready) return server;
      } catch {
        // Not listening yet.
      }
      await sleep(100);
    }
    await server.stop();
    throw new Error(`appium did not become ready within 60 s:\n${server.output}`);
  }

  /** Starts a fake-driver session on a "device" with this UDID; returns the session id. */
  async createSession(udid: string, extra: Record<string, unknown> = {}): Promise<string> {
    const capabilities = {
      platformName: 'Fake',
      'appium:automationName': 'Fake',
      'appium:deviceName': `Fake ${udid}`,
      'appium:app': FAKE_APP,
      'appium:udid': udid,
      ...extra,
    };
    const response = await request(`${this.url}/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ capabilities: { alwaysMatch: capabilities, firstMatch: [{}] } }),
    });
    const body = (await response.body.json()) as { value: { sessionId?: string; message?: string } };
    if (response.statusCode !== 200 || !body.value.sessionId) {
      throw new Error(
        `appium did not create a session (${response.statusCode}): ${body.value.message ?? JSON.stringify(body)}`,
      );
    }
    return body.value.sessionId;
  }

  async deleteSession(sessionId: string): Promise<void> {
    const response = await request(`${this.url}/session/${sessionId}`, { method: 'DELETE' });
    const text = await response.body.text();
    if (response.statusCode !== 200)
      throw new Error(`appium did not delete session ${sessionId} (${response.statusCode}): ${text}`);
  }

  /** The raw answer of the session list, to compare with what the source reports. */
  async sessions(): Promise<{ statusCode: number; body: unknown }> {
    const response = await request(`${this.url}/appium/sessions`);
    return { statusCode: response.statusCode, body: await response.body.json() };
  }

  /** Freezes the process (SIGSTOP): it still accepts connections but answers nothing, like a hung server. */
  pause(): void {
    if (this.running) this.child.kill('SIGSTOP');
  }

  resume(): void {
    if (this.running) this.child.kill('SIGCONT');
  }

  /** SIGTERM (Appium ends its sessions and exits), SIGKILL if it lingers. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.resume();
    this.child.kill('SIGTERM');
    const killed = await Promise.race([this.exited.then(() => false), sleep(5000).then(() => true)]);
    if (killed) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
