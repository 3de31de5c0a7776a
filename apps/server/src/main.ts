import pino from 'pino';
import type { Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import { loadConfig } from './config/load-config';
import type { LogFormat } from './config/load-config';
import { startTracing, tracing } from '@laneway/lanes';
import { startServer, type RunningServer } from './server';

/**
 * The root logger: JSON lines on stdout (what log collectors and the e2e tests read), or, on a
 * terminal or with LANEWAY_LOG_FORMAT=pretty, pino-pretty's lines. pino-pretty runs as a stream in
 * this thread, not as a transport: a transport's worker thread would have to resolve it by name from
 * the bundle's location. It writes synchronously, so nothing is lost when shutdown calls process.exit.
 */
function createLogger(level: string, format: LogFormat): Logger {
  const options = { name: 'server', level };
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  if (!pretty) return pino(options);
  return pino(options, pinoPretty({ colorize: process.stdout.isTTY === true, sync: true }));
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, config.logFormat ?? 'auto');
  // OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) set: spans go out over OTLP/HTTP. Unset, nothing is loaded.
  const traced = await startTracing({ defaultServiceName: 'laneway-server', attributes: { 'service.instance.id': config.serverName, 'laneway.cluster': config.cluster } });
  if (traced) logger.info({ serviceName: process.env['OTEL_SERVICE_NAME'] || 'laneway-server' }, 'tracing: exporting spans over OTLP/HTTP');
  let stopping = false;
  // Set once started; a refusal may in principle arrive before (it then has nothing to close).
  const started: { server?: RunningServer } = {};
  const running = (started.server = await startServer(config, logger, {
    // A refused join (a wrong LANEWAY_JOIN_TOKEN, an unknown cluster) cannot heal by retrying: stop now.
    onRefused: (message) => {
      if (stopping) return;
      stopping = true;
      logger.fatal({}, message);
      if (config.logFormat !== 'pretty' && !process.stdout.isTTY) process.stderr.write(`server stopped: ${message}\n`);
      void (started.server?.close() ?? Promise.resolve()).finally(() => process.exit(1));
    },
  }));
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight jobs');
    running
      .close()
      // The last spans go out before the process ends.
      .then(() => tracing()?.shutdown().catch(() => undefined))
      .then(
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
