/** When attempts happen: the retry schedule, its jitter, and a receiver's Retry-After. */

export const DEFAULT_RETRY_SCHEDULE = '0s,5s,5m,30m,2h,5h,10h,10h';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
// A schedule longer than this is almost certainly a typo (e.g. 5000h for 5000ms).
const MAX_DELAY_MS = 7 * 86_400_000;
const MAX_ATTEMPTS = 50;

/**
 * Parses `0s,5s,5m,30m,2h,5h,10h,10h` into milliseconds. The first entry is the first attempt's
 * delay, each later one the wait after a failure; so the list's length is the number of attempts.
 */
export function parseRetrySchedule(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (text.trim() === '' || parts.some((p) => p === '')) {
    throw new Error(`Retry schedule "${text}" must be a comma-separated list of delays such as 0s,5s,5m,30m,2h`);
  }
  if (parts.length > MAX_ATTEMPTS)
    throw new Error(`Retry schedule has ${parts.length} entries; at most ${MAX_ATTEMPTS} attempts are allowed`);
  return parts.map((part) => parseDelay(part, 'Retry schedule entry'));
}

/** Parses one delay such as `500ms`, `5s`, `2h` into milliseconds; `what` names it in the error. */
export function parseDelay(text: string, what = 'Delay'): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match)
    throw new Error(`${what} "${text}" is not a delay: use a number with ms, s, m, h or d (e.g. 500ms, 5s, 2h)`);
  const ms = Math.round(Number(match[1]) * UNIT_MS[match[2]]);
  if (ms > MAX_DELAY_MS) throw new Error(`${what} "${text}" is longer than 7 days`);
  return ms;
}

/** Spreads a delay by ±`jitter` (a fraction) so retries from one outage do not arrive in lockstep. */
export function withJitter(delayMs: number, jitter: number, random = Math.random): number {
  if (delayMs <= 0 || jitter <= 0) return delayMs;
  return Math.max(0, Math.round(delayMs * (1 + jitter * (2 * random() - 1))));
}

// A receiver asking for more than a day is capped: the schedule's own waits are at most 10 h.
const MAX_RETRY_AFTER_MS = 86_400_000;

/** Retry-After as milliseconds from `now` (delta-seconds or an HTTP date), or null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const date = Date.parse(text);
    if (Number.isNaN(date)) return null;
    ms = date - now;
  }
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}
