/** The one table `npm run bench` prints (markdown, so docs/benchmarks.md can hold it as is). */
export interface Row {
  scenario: string;
  metric: string;
  value: string;
  baseline?: string;
  ratio?: string;
  target?: string;
  met?: boolean | null;
}

export function render(rows: readonly Row[]): string {
  const head = ['scenario', 'metric', 'value', 'baseline', 'ratio', 'target', 'met?'];
  const cells = rows.map((r) => [
    r.scenario,
    r.metric,
    r.value,
    r.baseline ?? '—',
    r.ratio ?? '—',
    r.target ?? '—',
    r.met === undefined || r.met === null ? '—' : r.met ? 'yes' : '**no**',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}
