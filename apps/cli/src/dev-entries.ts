import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { CliError } from './errors';

/** The built entry points `laneway dev` starts as child processes. */
export interface DevEntryPoints {
  readonly controlPlane: string;
  readonly server: string;
}

/** Per part: the bundle beside the CLI's in the repository's dist/apps, and the installed package. */
const PARTS = [
  { key: 'controlPlane', dir: 'control-plane', pkg: 'laneway-control-plane', what: 'control plane' },
  { key: 'server', dir: 'server', pkg: 'laneway-server', what: 'server' },
] as const;

/**
 * Where the control plane and the server are, seen from the CLI's bundle directory (`cliDir`,
 * dist/apps/cli in the repository): the bundles beside it (dist/apps/control-plane/main.js,
 * dist/apps/server/main.js), else the packages `npm run package` makes (laneway-control-plane,
 * laneway-server) installed where the CLI's package can require them. Throws CliError saying what was
 * looked for and how to get it.
 */
export function findDevEntryPoints(
  cliDir: string,
  exists: (file: string) => boolean = existsSync,
): DevEntryPoints {
  const found: Partial<Record<keyof DevEntryPoints, string>> = {};
  const missing: string[] = [];
  const require = createRequire(path.join(cliDir, 'noop.js'));
  for (const part of PARTS) {
    const beside = path.resolve(cliDir, '..', part.dir, 'main.js');
    if (exists(beside)) {
      found[part.key] = beside;
      continue;
    }
    try {
      found[part.key] = require.resolve(`${part.pkg}/main.js`);
    } catch {
      missing.push(`the ${part.what} (${beside}, or the package ${part.pkg})`);
    }
  }
  if (found.controlPlane === undefined || found.server === undefined) {
    throw new CliError(
      `laneway dev starts the control plane and a server from their builds, and cannot find ${missing.join(' nor ')}. ` +
        'In the repository, build them: npx nx run-many -t build -p control-plane server cli (or npm run build). ' +
        'Installed from packages (npm run package): install laneway-control-plane and laneway-server beside laneway-cli.',
    );
  }
  return { controlPlane: found.controlPlane, server: found.server };
}
