/**
 * Isolation: the burst again, with receiver 19 a black hole (accepts the request, never answers)
 * and receiver 20 answering after 2 s. The 18 healthy receivers' p99 latency (tracker emit →
 * request received) is compared with theirs in the all-healthy burst of the same process run.
 *
 * The run ends once the healthy receivers have all 14,400 of their callbacks; the black hole's and
 * the slow receiver's lanes are still busy then (that is the point), and are cut off by shutdown.
 * So the delivery timeout never comes into it and stays at its default (15 s).
 */
import { engineBurst, type BurstRun } from './burst.js';
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
