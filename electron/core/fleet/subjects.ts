/**
 * The fleet's streams and subjects, in one place. Names that come from people or phones (host
 * names, UDIDs) are hex-encoded into subject tokens, which may not hold dots, spaces or wildcards.
 */
import type { StreamConfig } from '@nats-io/jetstream';

export const token = (text: string): string => Buffer.from(text, 'utf8').toString('hex');
export const untoken = (hex: string): string => Buffer.from(hex, 'hex').toString('utf8');

export const SUBJECTS = {
  /** The configuration log: every change to the org, webhooks and tokens, in the order all nodes apply it. */
  config: 'lh.config',
  /** A host's heartbeat; the stream keeps the last per host. */
  host: (host: string) => `lh.host.${token(host)}`,
  hosts: 'lh.host.*',
  /** One host's view of one device; the stream keeps the last per (host, device). */
  device: (host: string, udidKey: string) => `lh.device.${token(host)}.${token(udidKey)}`,
  devices: 'lh.device.*.*',
  /** Requests a host answers for the devices it sees (reserve, release, rename). */
  rpc: (host: string) => `lh.rpc.${token(host)}`,
} as const;

type Definition = Pick<StreamConfig, 'name' | 'subjects'> & Partial<StreamConfig>;

export const STREAMS = {
  config: { name: 'LH_CONFIG', subjects: [SUBJECTS.config] },
  hosts: { name: 'LH_HOSTS', subjects: [SUBJECTS.hosts], max_msgs_per_subject: 1 },
  devices: { name: 'LH_DEVICES', subjects: [SUBJECTS.devices], max_msgs_per_subject: 1 },
} satisfies Record<string, Definition>;
