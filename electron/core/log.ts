/**
 * The engine's logging seam. The core never imports electron-log (it pulls in Electron): the
 * Electron main process passes its own logger, `serve` passes one that writes to the console.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Log lines go to stderr, so stdout carries only what scripts read (the listening line). */
export const consoleLogger: Logger = {
  info: (message) => console.error(`labhook: ${message}`),
  warn: (message) => console.warn(`labhook: ${message}`),
  error: (message) => console.error(`labhook: ${message}`),
};

/** Collects lines; for tests and for the start-up summary. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`info: ${m}`),
    warn: (m) => lines.push(`warn: ${m}`),
    error: (m) => lines.push(`error: ${m}`),
  };
}
