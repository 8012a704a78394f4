/** The serve command: options → engine + HTTP server → the listening line; clean stop on SIGTERM/SIGINT. */
import { ConfigError, resolveConfig } from '../core/engine/config.js';
import { importIntoFleet } from '../core/fleet/import.js';
import { consoleLogger, type Logger } from '../core/log.js';
import { serve } from './serve.js';

const FLEET_USAGE = `Usage: npm run fleet -- import --data-dir DIR --fleet URL[,URL…] [--fleet-creds FILE]
  Brings the configuration of a single host's data directory (org, webhooks, tokens) into a fleet
  that has none yet; that host then joins with the same --data-dir.`;

export async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === 'fleet') return fleetCommand(argv.slice(1));
  let config;
  try {
    config = resolveConfig(argv);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const help = argv.includes('--help') || argv.includes('-h');
    (help ? console.log : console.error)(help ? error.message : `labhook: ${error.message}`);
    process.exit(help ? 0 : 2);
  }

  let served;
  try {
    served = await serve(config, consoleLogger);
  } catch (error) {
    console.error(`labhook: ${(error as Error).message}`);
    process.exit(1);
  }
  console.log(
    config.printToken
      ? `Labhook listening on ${served.url}`
      : `Labhook listening on ${served.origin}/ (sign-in link not printed: --print-token off; sign in at /?token= with an API token or LABHOOK_ADMIN_TOKEN, or rotate the link with POST /api/v1/tokens/sign-in/rotate)`,
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      console.error(`labhook: ${signal} again, exiting now`);
      process.exit(130);
    }
    stopping = true;
    served.close().then(
      () => process.exit(0),
      (error: Error) => {
        console.error(`labhook: shutdown failed: ${error.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** `fleet import`: one run, one line on stdout, non-zero with the reason on failure. */
async function fleetCommand(argv: readonly string[]): Promise<void> {
  if (argv[0] !== 'import' || argv.includes('--help') || argv.includes('-h')) {
    const help = argv[0] === 'import';
    (help ? console.log : console.error)(FLEET_USAGE);
    process.exit(help ? 0 : 2);
  }
  let config;
  try {
    config = resolveConfig(argv.slice(1));
    if (!config.fleet) throw new ConfigError('fleet import needs --fleet URL[,URL…] (or LABHOOK_FLEET)');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`labhook: ${error.message}`);
    process.exit(2);
  }
  // Only what goes wrong is worth a line here; the result is printed below.
  const quiet: Logger = { info: () => {}, warn: (m) => consoleLogger.warn(m), error: (m) => consoleLogger.error(m) };
  try {
    const done = await importIntoFleet(config.dataDir, config.fleet, quiet);
    console.log(
      `labhook: imported ${done.webhooks} webhooks and ${done.tokens} tokens from ${config.dataDir} into the fleet "${done.fleet}"`,
    );
    process.exit(0);
  } catch (error) {
    console.error(`labhook: ${(error as Error).message}`);
    process.exit(1);
  }
}
