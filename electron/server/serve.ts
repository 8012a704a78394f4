/** Headless mode: the engine plus its HTTP door. Used by `npm run serve` and by `npm start`'s fallback. */
import type { FastifyInstance } from 'fastify';
import type { EngineConfig } from '../core/engine/config.js';
import { Engine } from '../core/engine/engine.js';
import type { Logger } from '../core/log.js';
import { buildServer } from './http.js';

export interface Served {
  engine: Engine;
  app: FastifyInstance;
  /** `http://HOST:PORT` with the port actually bound. */
  origin: string;
  /** The sign-in link: `http://HOST:PORT/?token=…` with the current sign-in token. */
  readonly url: string;
  close(): Promise<void>;
}

export async function serve(config: EngineConfig, log: Logger): Promise<Served> {
  const engine = await Engine.start(config, log);
  const app = buildServer(engine, log);
  let port: number;
  try {
    await app.listen({ host: config.host, port: config.port });
    port = (app.server.address() as { port: number }).port;
  } catch (error) {
    await app.close().catch(() => undefined);
    await engine.shutdown();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new Error(
        `Port ${config.port} on ${config.host} is already in use; choose another with --port (0 = any free port)`,
        { cause: error },
      );
    if (code === 'EADDRNOTAVAIL')
      throw new Error(`${config.host} is not an address of this machine; choose another with --host`, { cause: error });
    throw error;
  }
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  let closing: Promise<void> | null = null;
  const origin = `http://${host}:${port}`;
  return {
    engine,
    app,
    origin,
    get url() {
      return `${origin}/?token=${encodeURIComponent(engine.signInToken)}`;
    },
    close: () =>
      (closing ??= (async () => {
        await app.close();
        await engine.shutdown();
      })()),
  };
}
