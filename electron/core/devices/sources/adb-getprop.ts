/** A device's system properties, read with one `shell:getprop` (see adb-shell.ts). */
import type { Client } from '@devicefarmer/adbkit';
import { runShell } from './adb-shell.js';

/** getprop's listing: `[name]: [value]`, one per line (values may span lines). */
const PROPERTY_LINE = /^\[([\s\S]*?)\]: \[([\s\S]*?)\]\r?$/gm;

export function parseGetprop(output: string): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const match of output.matchAll(PROPERTY_LINE)) properties[match[1]] = match[2]!;
  return properties;
}

export interface PropertyRead {
  /** Settles once: the properties, or an error (including `abandoned`). Never rejects unhandled. */
  readonly result: Promise<Record<string, string>>;
  /** Gives up the read and closes its connection. */
  abandon(): void;
}

export function readProperties(client: Client, serial: string): PropertyRead {
  const run = runShell(client, serial, 'getprop');
  const result = run.result.then((output) => parseGetprop(output.toString('utf8')));
  result.catch(() => {});
  return { result, abandon: () => run.abandon() };
}
