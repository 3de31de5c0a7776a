import { ScheduleOverlap, type ConnectionSpec } from '@laneway/proto';
import { scryptSync, timingSafeEqual } from 'node:crypto';
import { channelSpecOf } from '../channels/channel-spec';
import { connectionSpecOf } from '../connections/connection-spec';
import { InvalidArgumentError } from '../errors';
import { scheduleSpecOf } from '../schedules/schedule-spec';
import { apiKeyHeaderOf, checkBasicUsername, checkSecurityName, securitySpecOf, type SecuritySpecRecord } from '../security/security-spec';
import type { ResourceKind } from '../store';

const HEX = /^[0-9a-f]+$/;
const OVERLAPS: Record<string, ScheduleOverlap> = { SKIP: ScheduleOverlap.SCHEDULE_OVERLAP_SKIP, ALLOW: ScheduleOverlap.SCHEDULE_OVERLAP_ALLOW };

type Fields = Record<string, unknown>;

/**
 * The spec to store for one resource of laneway.yaml (`fields` already read against its shape, its
 * secrets resolved), through the same checks as the kind's Create/Update. `previous` is the stored
 * spec, if any: a secret left out keeps the stored one, as an update does.
 */
export function specFromConfig(kind: ResourceKind, name: string, fields: Fields, previous: unknown): unknown {
  switch (kind) {
    case 'channel':
      return channelSpecOf({ name, ...(fields as Omit<Parameters<typeof channelSpecOf>[0], 'name'>) });
    case 'connection':
      return connectionSpecOf(name, withSetFlags(fields) as ConnectionSpec, previous as ConnectionSpec | undefined);
    case 'schedule': {
      const overlap = OVERLAPS[String(fields.overlap)];
      if (overlap === undefined) throw new InvalidArgumentError('overlap', `overlap ${JSON.stringify(fields.overlap)} is not SKIP or ALLOW`);
      const f = fields as { service: string; inputJson: string; intervalMs: number; cron: string; timezone: string; paused: boolean };
      return scheduleSpecOf({ name, service: f.service, inputJson: f.inputJson, intervalMs: f.intervalMs, cron: f.cron, timezone: f.timezone, overlap }, f.paused);
    }
    case 'security':
      return securityFromConfig(name, fields, previous as SecuritySpecRecord | undefined);
  }
}

/** The wire types carry `passwordSet`-style flags the YAML leaves out; the spec functions expect them. */
function withSetFlags(fields: Fields): Fields {
  const out = structuredClone(fields);
  for (const kind of ['postgres', 'mysql', 'redis', 'amqp']) if (out[kind]) (out[kind] as Fields).passwordSet = false;
  const rest = out.rest as Fields | undefined;
  if (rest?.basic) (rest.basic as Fields).passwordSet = false;
  if (rest?.bearer) (rest.bearer as Fields).tokenSet = false;
  if (rest?.apiKey) (rest.apiKey as Fields).keySet = false;
  return out;
}

/**
 * A security definition takes a key or password either in the clear (usually a `${env:...}`
 * reference), hashed here as CreateSecurityDefinition does, or as the hash an export wrote
 * (`keySha256`; `salt`, `hash`, `cost`), stored as it is. A password equal to the stored one keeps
 * the stored hash, so applying the same file twice changes nothing.
 */
function securityFromConfig(name: string, fields: Fields, previous: SecuritySpecRecord | undefined): SecuritySpecRecord {
  checkSecurityName(name);
  const apiKey = fields.apiKey as { header: string; key: string; keySha256: string } | undefined;
  const basic = fields.basicAuth as { username: string; password: string; salt: string; hash: string; cost: number } | undefined;
  const jwt = fields.jwt as { hs256Secret: string; publicKeyPem: string; issuer: string; audience: string } | undefined;
  if ([apiKey, basic, jwt].filter(Boolean).length !== 1) throw new InvalidArgumentError('auth', 'give exactly one of apiKey, basicAuth or jwt');
  if (apiKey) {
    if (apiKey.key && apiKey.keySha256) throw new InvalidArgumentError('apiKey', 'give apiKey.key or apiKey.keySha256, not both');
    if (apiKey.keySha256) {
      if (apiKey.keySha256.length !== 64 || !HEX.test(apiKey.keySha256)) {
        throw new InvalidArgumentError('apiKey.keySha256', 'apiKey.keySha256 must be 64 lower-case hex digits (the SHA-256 of the key)');
      }
      return { apiKey: { header: apiKeyHeaderOf(apiKey.header), keySha256: apiKey.keySha256 } };
    }
    return securitySpecOf({ name, apiKey: { header: apiKey.header, key: apiKey.key, keySet: false } }, previous);
  }
  if (basic) {
    checkBasicUsername(basic.username);
    if (basic.password && (basic.salt || basic.hash)) throw new InvalidArgumentError('basicAuth', 'give basicAuth.password or its salt, hash and cost, not both');
    if (basic.hash || basic.salt) {
      if (!HEX.test(basic.salt) || !HEX.test(basic.hash) || basic.hash.length < 32) {
        throw new InvalidArgumentError('basicAuth.hash', 'basicAuth.salt and basicAuth.hash must be hex (as an export writes them)');
      }
      if (!Number.isInteger(basic.cost) || basic.cost < 1024 || basic.cost > 1 << 20 || (basic.cost & (basic.cost - 1)) !== 0) {
        throw new InvalidArgumentError('basicAuth.cost', `basicAuth.cost ${basic.cost} must be a power of two from 1024 to 1048576 (scrypt's N)`);
      }
      return { basicAuth: { username: basic.username, salt: basic.salt, hash: basic.hash, cost: basic.cost } };
    }
    const stored = previous?.basicAuth;
    if (basic.password && stored && passwordMatches(basic.password, stored)) return { basicAuth: { ...stored, username: basic.username } };
    return securitySpecOf({ name, basicAuth: { username: basic.username, password: basic.password, passwordSet: false } }, previous);
  }
  return securitySpecOf({ name, jwt: { ...jwt!, secretSet: false } }, previous);
}

function passwordMatches(password: string, stored: { salt: string; hash: string; cost: number }): boolean {
  const expected = Buffer.from(stored.hash, 'hex');
  const actual = scryptSync(password, stored.salt, expected.length, { N: stored.cost });
  return timingSafeEqual(actual, expected);
}
