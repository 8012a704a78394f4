// A DeliveryService in its own process, run from the compiled output (out/), so a test can kill it
// with SIGKILL mid-burst and start another on the same data directory. Driven over IPC:
//   { type: 'webhooks', webhooks }  -> { type: 'ok', seq }
//   { type: 'boot' }                -> { type: 'ok', seq }
//   { type: 'enqueue', change }     -> { type: 'enqueued', id } once the change is durable
//   { type: 'list', query }         -> { type: 'list', seq, result }
import { DeliveryService } from '../../out/electron/core/delivery/service.js';

const [dataDir, schedule] = process.argv.slice(2);
let webhooks = [];
const directory = {
  list: () => webhooks,
  get: (id) => webhooks.find((w) => w.id === id),
  disable: async (id) => {
    webhooks = webhooks.map((w) => (w.id === id ? { ...w, enabled: false } : w));
  },
  // The webhooks are set once, before boot.
  subscribe: () => () => {},
};
const forward = (level) => (message) => process.send?.({ type: 'log', level, message });
const service = new DeliveryService({
  dataDir,
  directory,
  org: () => ({ id: 1, name: 'Lab' }),
  retrySchedule: JSON.parse(schedule),
  timeoutMs: 5000,
  version: 'child',
  log: { info: forward('info'), warn: forward('warn'), error: forward('error') },
  jitter: 0,
});

process.on('message', async (message) => {
  try {
    if (message.type === 'webhooks') {
      webhooks = message.webhooks;
      process.send({ type: 'ok', seq: message.seq });
    } else if (message.type === 'boot') {
      await service.boot();
      process.send({ type: 'ok', seq: message.seq });
    } else if (message.type === 'enqueue') {
      await service.enqueue(message.change);
      process.send({ type: 'enqueued', id: message.change.id });
    } else if (message.type === 'list') {
      process.send({ type: 'list', seq: message.seq, result: await service.list(message.query) });
    }
  } catch (error) {
    process.send?.({ type: 'error', seq: message.seq, message: String(error?.stack ?? error) });
  }
});
process.on('disconnect', () => {
  void service.shutdown().then(() => process.exit(0));
});
