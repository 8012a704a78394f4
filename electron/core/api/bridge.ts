/**
 * What the Electron preload exposes to the window as `window.labhook`: the contract's one invoke
 * helper and one channel for the engine's events. Pure types and channel names, so the preload,
 * the main process's IPC handlers and the renderer's client agree on one shape.
 *
 * Errors cross IPC as data (Electron keeps only an Error's message), and the renderer rebuilds an
 * `ApiError` with its code, message and fields from the `ErrorPayload`.
 */
import type { ErrorPayload } from './errors.js';
import type { InputOf, OperationName, OutputOf, ServerEvent } from './contract.js';

/** ipcRenderer.invoke channel: `(name, input)` → `BridgeResult`. */
export const IPC_INVOKE = 'labhook:invoke';
/** webContents.send channel: one `ServerEvent` per message. */
export const IPC_EVENT = 'labhook:event';

export type BridgeResult<T> = { ok: true; value: T } | ({ ok: false } & ErrorPayload);

export interface LabhookBridge {
  invoke<N extends OperationName>(name: N, input: InputOf<N>): Promise<BridgeResult<OutputOf<N>>>;
  /** Calls `listener` for every engine event; returns the function that stops it. */
  onEvent(listener: (event: ServerEvent) => void): () => void;
}
