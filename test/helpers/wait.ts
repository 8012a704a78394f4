type Falsy = undefined | null | false | 0 | '';

/**
 * Polls `probe` until it returns something truthy and resolves with that value, so a wait can also hand
 * back what it waited for. The default is the longest any suite used before sharing this helper: a wait
 * only runs out when something is broken, and a shorter one would only add flakes on a busy machine.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | Falsy | Promise<T | Falsy>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
