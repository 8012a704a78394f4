/**
 * Isolation, two ways.
 *
 * Receivers of their own: the burst again, with receiver 19 a black hole (accepts the request,
 * never answers) and receiver 20 answering after 2 s. The 18 healthy receivers' p99 latency
 * (tracker emit → request received) is compared with theirs in the all-healthy burst of the same
 * process run.
 *
 * One shared origin (a lab's CI server taking every webhook on one host:port): 20 healthy webhooks
 * on one receiver, 50 devices coming online at once, compared with the same run plus a webhook on
 * that origin whose endpoint answers after 2 s and one whose endpoint never answers. A pool per
 * origin would let their 100 lanes hold its connections while the healthy webhooks queue.
 *
 * Each run ends once the healthy webhooks have all their callbacks; the black hole's and the slow
 * endpoint's lanes are still busy then (that is the point), and are cut off by shutdown. So the
 * delivery timeout never comes into it and stays at its default (15 s).
 */
import { engineBurst, type BurstRun, type BurstShape } from './burst.js';
import type { ReceiverHost } from '../receivers.js';

export const HEALTHY = Array.from({ length: 18 }, (_, i) => i);

export function isolationRun(
  host: ReceiverHost,
  healthyUrls: readonly string[],
  blackHole: string,
  slow: string,
): Promise<BurstRun> {
  return engineBurst(host, [...healthyUrls.slice(0, 18), blackHole, slow], HEALTHY);
}

export const SHARED_HEALTHY = 20;
export const SHARED_SHAPE: BurstShape = { devices: 50, transitions: 1 };

/** `origin` is a `routes` receiver (bench/receiver-host.ts); `withBad` adds its slow and silent endpoints. */
export function sharedOriginRun(host: ReceiverHost, origin: string, withBad: boolean): Promise<BurstRun> {
  const healthy = Array.from({ length: SHARED_HEALTHY }, (_, i) => `${origin}/ok-${i + 1}`);
  // The bad webhooks come first, so for every device their lanes reach the sender first.
  const urls = withBad ? [`${origin}/slow`, `${origin}/hang`, ...healthy] : healthy;
  const first = withBad ? 2 : 0;
  return engineBurst(
    host,
    urls,
    healthy.map((_, i) => first + i),
    {},
    SHARED_SHAPE,
  );
}
