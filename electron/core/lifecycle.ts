/**
 * Every long-lived part of the engine (store, sources, tracker, dispatcher, server) has the same
 * two-step lifecycle, so the engine can boot them in order and shut them down in reverse.
 */
import { consoleLogger, type Logger } from './log.js';

export interface Service {
  readonly name: string;
  boot(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Boots services in order; on failure shuts down what already booted, then rethrows. */
export async function bootAll(services: readonly Service[], log: Logger = consoleLogger): Promise<() => Promise<void>> {
  const booted: Service[] = [];
  const shutdown = async () => {
    for (const service of booted.reverse()) {
      try {
        await service.shutdown();
      } catch (error) {
        // Shutdown keeps going so every other service still gets its chance to persist.
        log.error(`${service.name} did not shut down cleanly: ${(error as Error).message}`);
      }
    }
    booted.length = 0;
  };
  try {
    for (const service of services) {
      await service.boot();
      booted.push(service);
    }
  } catch (error) {
    await shutdown();
    throw error;
  }
  return shutdown;
}
