import pino from 'pino';
import { loadConfig } from './config/load-config';
import { startServer } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ name: 'server', level: config.logLevel });
  const running = await startServer(config, logger);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight jobs');
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`server failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
