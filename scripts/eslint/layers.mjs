/**
 * ESLint rule `labhook/layers`: imports point down the layers only (docs/architecture.md).
 *
 *   electron/core/api   pure (zod and itself): the window imports it
 *   electron/core       plain Node: never Electron, electron-log, or the doors above it
 *   electron/server     the HTTP door: never the Electron process code
 *   electron/preload    Electron's contextBridge and the contract, nothing else
 *   renderer            the contract only, from the engine
 *
 * Each layer lists what it may not import, with the reason shown in the message, in the manner of
 * VS Code's `code-layering` rule.
 */
import { dirname, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '../..');

/** Project files are named `./` + their path from the root (`./electron/core/...`), packages by their name. */
const electronRuntime = (spec) => /^(electron|electron-log)(\/|$)/.test(spec);
const nodeBuiltin = (spec) => spec.startsWith('node:');
const under = (spec, ...dirs) => dirs.some((dir) => spec.startsWith(`./${dir}`));

/** [layer prefix, test for a forbidden import, why]. First match wins. */
const LAYERS = [
  [
    'electron/core/api/',
    (spec) => spec !== 'zod' && !under(spec, 'electron/core/api/'),
    'core/api is pure (zod and its own modules only) so the window can import it',
  ],
  [
    'electron/core/',
    (spec) =>
      electronRuntime(spec) ||
      under(spec, 'electron/server/', 'electron/main/', 'electron/preload/', 'electron/launch', 'renderer/'),
    'the core is plain Node: it never imports Electron, electron-log or the layers above it',
  ],
  [
    'electron/server/',
    (spec) =>
      electronRuntime(spec) || under(spec, 'electron/main/', 'electron/preload/', 'electron/launch', 'renderer/'),
    'the server runs without Electron: it never imports the Electron process code',
  ],
  [
    'electron/preload/',
    (spec) => spec !== 'electron' && !under(spec, 'electron/core/api/', 'electron/preload/'),
    'the preload exposes the contract through contextBridge and nothing else',
  ],
  [
    'renderer/',
    (spec) =>
      electronRuntime(spec) || nodeBuiltin(spec) || (under(spec, 'electron/') && !under(spec, 'electron/core/api/')),
    'the window imports only the contract (electron/core/api) from the engine',
  ],
];

function resolveSpec(file, spec) {
  if (!spec.startsWith('.')) return spec;
  return `./${relative(root, resolve(dirname(file), spec))
    .split('\\')
    .join('/')}`;
}

/** @type {import('eslint').Rule.RuleModule} */
export const layers = {
  meta: {
    type: 'problem',
    docs: { description: 'Imports point down the layers only' },
    schema: [],
    messages: { upward: '{{file}} may not import "{{spec}}": {{why}}.' },
  },
  create(context) {
    const file = relative(root, context.filename).split('\\').join('/');
    const layer = LAYERS.find(([prefix]) => file.startsWith(prefix));
    if (!layer || /\.spec\.ts$/.test(file)) return {};
    const [, forbidden, why] = layer;
    const check = (node, source) => {
      if (!source || typeof source.value !== 'string') return;
      const spec = resolveSpec(context.filename, source.value);
      if (forbidden(spec)) context.report({ node, messageId: 'upward', data: { file, spec: source.value, why } });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source.type === 'Literal' ? node.source : null),
    };
  },
};

export default { rules: { layers } };
