import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './0001-initial';
import * as m0002 from './0002-drain-tokens-policies';
import * as m0003 from './0003-server-holder';
import * as m0004 from './0004-resources';
import * as m0005 from './0005-service-connections';
import * as m0006 from './0006-service-sources';
import * as m0007 from './0007-server-http-address';
import * as m0008 from './0008-mirror';
import * as m0009 from './0009-audit-log';
import * as m0010 from './0010-users';
import * as m0011 from './0011-service-input-schema';

/**
 * Every migration, keyed by name; the migrator runs them in key order. Listed statically because the
 * app is bundled and has no migrations folder at run time.
 */
export const migrations: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-drain-tokens-policies': m0002,
  '0003-server-holder': m0003,
  '0004-resources': m0004,
  '0005-service-connections': m0005,
  '0006-service-sources': m0006,
  '0007-server-http-address': m0007,
  '0008-mirror': m0008,
  '0009-audit-log': m0009,
  '0010-users': m0010,
  '0011-service-input-schema': m0011,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(migrations),
};
