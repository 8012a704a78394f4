/** `--demo N` phones have batteries too, so the health columns, warnings and metrics can be tried without a lab. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer, type ApiServer } from '../helpers/api-server.js';
import { waitFor } from '../helpers/wait.js';

let server: ApiServer;
beforeAll(async () => {
  server = await startApiServer(['--demo', '7']);
});
afterAll(async () => server?.close());

describe('demo health', () => {
  it('the hot phone and the one that does not charge raise their warnings, and metrics show the batteries', async () => {
    const warned = await waitFor('both demo warnings', async () => {
      const { body } = await server.call('GET', '/api/v1/devices?warning=true');
      const codes = new Map<string, string[]>(
        (body.items as { udid: string; health: { warnings: { code: string }[] } }[]).map((d) => [
          d.udid,
          d.health.warnings.map((w) => w.code),
        ]),
      );
      return codes.get('demo-05')?.includes('battery_hot') && codes.get('demo-07')?.includes('not_charging')
        ? codes
        : null;
    });
    expect([...warned.keys()].sort()).toEqual(['demo-05', 'demo-07']);
    // Phones keep cycling through offline and unplugged (which drops the reading): wait for one read.
    const sample = /^labhook_device_battery_level_percent\{udid="demo-07",name="[^"]+",platform="\w+"\} 9$/m;
    await waitFor('demo-07 in the metrics', async () => sample.test((await server.call('GET', '/metrics')).text));
  });
});
