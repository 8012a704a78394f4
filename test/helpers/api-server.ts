/** The real HTTP server on 127.0.0.1 with a temporary data directory, and a small client for it. */
import { request as undiciRequest } from 'undici';
import { resolveConfig } from '../../electron/core/engine/config.js';
import { memoryLogger } from '../../electron/core/log.js';
import { serve, type Served } from '../../electron/server/serve.js';
import { tempDir } from './temp-dir.js';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  text: string;
}

export interface ApiServer {
  served: Served;
  dataDir: string;
  base: string;
  /** The current sign-in token: an admin credential. */
  readonly adminToken: string;
  /** Every line the engine logged. */
  log: string[];
  call(
    method: string,
    path: string,
    options?: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> },
  ): Promise<Reply>;
  close(): Promise<void>;
}

export async function startApiServer(extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ApiServer> {
  const dir = await tempDir();
  const config = resolveConfig(
    [
      '--data-dir',
      dir.path,
      '--port',
      '0',
      '--adb',
      'off',
      '--appium',
      'off',
      '--usb',
      'off',
      '--usbmux',
      'off',
      ...extraArgs,
    ],
    env,
  );
  const log = memoryLogger();
  const served = await serve(config, log);
  const origin = new URL(served.url).origin;
  // The sign-in token of the moment: a test may rotate it.
  const adminToken = () => served.engine.signInToken;
  return {
    served,
    dataDir: dir.path,
    base: origin,
    get adminToken() {
      return adminToken();
    },
    log: log.lines,
    async call(method, path, options = {}) {
      const token = options.token === undefined ? adminToken() : options.token;
      const headers: Record<string, string> = { ...options.headers };
      if (token) headers.authorization = `Bearer ${token}`;
      let body: string | undefined = options.raw;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await undiciRequest(`${origin}${path}`, { method: method as 'GET', headers, body });
      const text = await response.body.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: response.statusCode, headers: response.headers, body: parsed, text };
    },
    async close() {
      await served.close();
      await dir.remove();
    },
  };
}
