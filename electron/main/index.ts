/**
 * The Electron main process: thin wiring around the same engine `serve` runs. Logic lives in
 * electron/core; this file only maps it onto Electron's window and lifecycle.
 */
import { app, BrowserWindow, dialog } from 'electron';
import log from 'electron-log/main';
import { resolveConfig } from '../core/engine/config.js';
import { serve, type Served } from '../server/serve.js';

const logger = {
  info: (m: string) => log.info(m),
  warn: (m: string) => log.warn(m),
  error: (m: string) => log.error(m),
};
let served: Served | null = null;

if (!app.requestSingleInstanceLock()) app.quit();

void app.whenReady().then(async () => {
  try {
    // The window talks to the engine over loopback on a free port, like a browser would.
    served = await serve(
      { ...resolveConfig(process.argv.slice(2)), dataDir: app.getPath('userData'), port: 0 },
      logger,
    );
  } catch (error) {
    dialog.showErrorBox('Labhook cannot start', (error as Error).message);
    app.exit(1);
    return;
  }
  const window = new BrowserWindow({
    width: 1200,
    height: 800,
    title: 'Labhook',
    webPreferences: { sandbox: true, contextIsolation: true },
  });
  await window.loadURL(served.url);
});

app.on('window-all-closed', () => app.quit());
app.on('before-quit', (event) => {
  if (!served) return;
  event.preventDefault();
  const closing = served;
  served = null;
  void closing.close().finally(() => app.exit(0));
});
