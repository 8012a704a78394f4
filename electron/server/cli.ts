/** `npm run serve -- [options]`: the engine and web UI without a window. */
import { main } from './cli-main.js';

await main(process.argv.slice(2));
