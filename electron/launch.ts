/**
 * `npm start`: the desktop window when an Electron runtime and a display are available; otherwise
 * `serve` with the same defaults, saying in one line why there is no window. The check never
 * triggers Electron's lazy download (which would hang on a machine without internet).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './core/engine/version.js';

/** The Electron binary, or why there is none. */
export function electronRuntime(
  root: string,
  env: NodeJS.ProcessEnv = process.env,
): { path: string; missing: null } | { path: null; missing: string } {
  const pkg = join(root, 'node_modules', 'electron');
  const pathFile = join(pkg, 'path.txt');
  const relative = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : null;
  const path = env.ELECTRON_OVERRIDE_DIST_PATH
    ? join(env.ELECTRON_OVERRIDE_DIST_PATH, relative ?? 'electron')
    : relative
      ? join(pkg, 'dist', relative)
      : null;
  if (path && existsSync(path)) return { path, missing: null };
  return {
    path: null,
    missing:
      'no Electron runtime is installed (it is downloaded on first use, which needs the internet: run `npx install-electron` where it is reachable)',
  };
}

export function displayMissing(env: NodeJS.ProcessEnv = process.env): string | null {
  if (process.platform !== 'linux') return null;
  return env.DISPLAY || env.WAYLAND_DISPLAY
    ? null
    : 'no display is available (neither DISPLAY nor WAYLAND_DISPLAY is set)';
}

async function launch(argv: string[]): Promise<void> {
  const root = projectRoot();
  const runtime = electronRuntime(root);
  const why = runtime.missing ?? displayMissing();
  if (why !== null || runtime.path === null) {
    console.log(`Labhook: no window because ${why}; serving the web UI instead.`);
    const { main } = await import('./server/cli-main.js');
    await main(argv);
    return;
  }
  const child = spawn(runtime.path, [root, ...argv], { stdio: 'inherit' });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
}

await launch(process.argv.slice(2));
