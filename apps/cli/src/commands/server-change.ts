import type { ServerInfo } from '@laneway/proto';
import { formatJson, formatServer } from '../format';
import type { CommandContext } from './command';

/** Prints the server as `servers` does, and says when the change waits for it to reconnect. */
export function printServerChange(server: ServerInfo, verb: string, context: CommandContext): void {
  context.out(context.json ? formatJson(server) : formatServer(server));
  if (!context.json && !server.connected) {
    context.err(`${server.name} is not connected: it will be ${verb} when it reconnects`);
  }
}
