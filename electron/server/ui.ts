/** The web UI at `/`. Until the window's renderer is built, a minimal page that points at the API. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Engine } from '../core/engine/engine.js';

const page = (version: string) => `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Labhook</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1d2330}code{background:#eef1f6;padding:.1rem .3rem;border-radius:.2rem}</style>
</head>
<body>
<h1>Labhook ${version}</h1>
<p>The engine is running. The HTTP API lives under <code>/api/v1</code>; its description is at <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>
</body>
</html>
`;

export function registerUi(
  app: FastifyInstance,
  engine: Engine,
  signIn: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>,
): void {
  const html = page(engine.version);
  app.get('/', async (request, reply) => {
    if ((request.query as Record<string, unknown>).token !== undefined) return signIn(request, reply);
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
      .send(html);
  });
}
