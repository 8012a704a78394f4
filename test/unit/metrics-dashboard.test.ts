/** The sample Grafana dashboard asks only for metrics Labhook exposes (so a renamed metric cannot leave it blank). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../electron/core/metrics/metrics.js';

describe('docs/grafana-dashboard.json', () => {
  it('every query names an exposed metric', async () => {
    const dashboard = JSON.parse(
      readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8'),
    ) as {
      panels: { targets: { expr: string }[] }[];
    };
    const metrics = new Metrics({ devices: () => [], sources: () => [], pendingDeliveries: () => 0 });
    const exposed = new Set<string>();
    for (const metric of await metrics.registry.getMetricsAsJSON()) {
      exposed.add(metric.name);
      if (String(metric.type) === 'histogram') exposed.add(`${metric.name}_bucket`);
    }
    const used = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => t.expr.match(/labhook_[a-z_]+/g) ?? []));
    expect(used.length).toBeGreaterThan(8);
    for (const name of used) expect(exposed, name).toContain(name);
  });
});
