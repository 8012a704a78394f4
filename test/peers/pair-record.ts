/**
 * A pairing between this host and an emulated iPhone, as usbmuxd stores it (/var/lib/lockdown/<UDID>.plist):
 * the host's and the device's certificates and keys, PEM in plist data, with HostID and SystemBUID.
 * Made with Debian's openssl command, once per test process.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);

export interface Identity {
  cert: Buffer;
  key: Buffer;
}

export interface Pairing {
  hostId: string;
  systemBuid: string;
  root: Identity;
  host: Identity;
  device: Identity;
}

async function identity(dir: string, name: string): Promise<Identity> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '3650',
    '-subj',
    `/CN=Labhook test ${name}`,
  ]);
  return { cert: await readFile(cert), key: await readFile(key) };
}

let identities: Promise<Pick<Pairing, 'root' | 'host' | 'device'>> | null = null;

/** A fresh HostID and BUID over certificates made once (key generation is the slow part). */
export async function makePairing(): Promise<Pairing> {
  identities ??= (async () => {
    const dir = await tempDir();
    try {
      const [root, host, device] = await Promise.all(['root', 'host', 'device'].map((n) => identity(dir.path, n)));
      return { root, host, device };
    } finally {
      await dir.remove();
    }
  })();
  return { ...(await identities), hostId: randomUUID().toUpperCase(), systemBuid: randomUUID().toUpperCase() };
}
