/** The serve command: options → engine + HTTP server → the listening line; clean stop on SIGTERM/SIGINT. */
import { ConfigError, resolveConfig } from '../core/engine/config.js';
import { consoleLogger } from '../core/log.js';
import { serve } from './serve.js';

export async function main(argv: readonly string[]): Promise<void> {
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
