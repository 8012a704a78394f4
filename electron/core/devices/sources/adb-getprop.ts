/**
 * One `shell:getprop` through the adb server, that can be abandoned.
 *
 * adbkit's `getProperties()` hides its socket, so a phone that never answers would keep that socket
 * (and the process) alive after a timeout or shutdown. Here the transport connection is kept in
 * hand and destroyed when the read is abandoned.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Client } from '@devicefarmer/adbkit';

const { Adb, ShellCommand } = createRequire(import.meta.url)(
  '@devicefarmer/adbkit',
) as typeof import('@devicefarmer/adbkit');

type Connection = Awaited<ReturnType<ReturnType<Client['getDevice']>['transport']>>;

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
  let connection: Connection | null = null;
  let abandoned = false;
  const close = () => {
    const socket = connection?.getSocket() as Socket | undefined;
    socket?.destroy();
  };
  const result = new Promise<Record<string, string>>((resolve, reject) => {
    Promise.resolve()
      .then(() => client.getDevice(serial).transport())
      .then((conn: Connection) => {
        connection = conn;
        if (abandoned) {
          close();
          throw new Error('abandoned');
        }
        return new ShellCommand(conn).execute('getprop');
      })
      .then((stream) => Adb.util.readAll(stream))
      .then(
        (output: Buffer) => {
          close();
          resolve(parseGetprop(output.toString('utf8')));
        },
        (error: unknown) => {
          close();
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
  });
  // The caller may stop listening after abandon(); the rejection must not surface as unhandled.
  result.catch(() => {});
  return {
    result,
    abandon: () => {
      abandoned = true;
      close();
    },
  };
}
