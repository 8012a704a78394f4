/**
 * One shell command on a device through the adb server, that can be abandoned.
 *
 * adbkit's `shell()` hides its socket, so a phone that never answers would keep that socket (and
 * the process) alive after a timeout or shutdown. Here the transport connection is kept in hand
 * and destroyed when the run is abandoned.
 */
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { Client } from '@devicefarmer/adbkit';

const { Adb, ShellCommand } = createRequire(import.meta.url)(
  '@devicefarmer/adbkit',
) as typeof import('@devicefarmer/adbkit');

type Connection = Awaited<ReturnType<ReturnType<Client['getDevice']>['transport']>>;

export interface ShellRun {
  /** Settles once: the command's output, or an error (including `abandoned`). Never rejects unhandled. */
  readonly result: Promise<Buffer>;
  /** Gives up the run and closes its connection. */
  abandon(): void;
}

export function runShell(client: Client, serial: string, command: string): ShellRun {
  let connection: Connection | null = null;
  let abandoned = false;
  let giveUp: (error: Error) => void = () => {};
  const close = () => {
    const socket = connection?.getSocket() as Socket | undefined;
    socket?.destroy();
  };
  const result = new Promise<Buffer>((resolve, reject) => {
    // A destroyed socket ends adbkit's read with neither `end` nor `error`: settle it here.
    giveUp = reject;
    Promise.resolve()
      .then(() => client.getDevice(serial).transport())
      .then((conn: Connection) => {
        connection = conn;
        if (abandoned) {
          close();
          throw new Error('abandoned');
        }
        return new ShellCommand(conn).execute(command);
      })
      .then((stream) => Adb.util.readAll(stream))
      .then(
        (output: Buffer) => {
          close();
          resolve(output);
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
      giveUp(new Error('abandoned'));
    },
  };
}
