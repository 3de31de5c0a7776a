import { describe, expect, it } from 'vitest';
import { connectionFlags } from './commands/connection-put';
import { SCHEDULE_FLAGS } from './commands/schedule-put';
import { CHANNEL_FLAGS } from './commands/channel-fields';
import { CliError } from './errors';
import { namingFlags, withFlagNames } from './flag-names';

// The control plane's own messages (schedule-spec.ts, channel-spec.ts, connection-spec.ts).
describe('withFlagNames', () => {
  it('names the flags the user typed instead of the wire fields', () => {
    expect(withFlagNames('interval_ms 500 is below 1000: schedules tick at most once a second', SCHEDULE_FLAGS)).toBe(
      '--every 500 is below 1000: schedules tick at most once a second',
    );
    expect(withFlagNames("timezone 'Nowhere/Else' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)", SCHEDULE_FLAGS)).toBe(
      "--tz 'Nowhere/Else' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)",
    );
    expect(withFlagNames("cron '0 25 * * *' is not a cron expression (bad hour): use five fields", SCHEDULE_FLAGS)).toBe(
      "--cron '0 25 * * *' is not a cron expression (bad hour): use five fields",
    );
    expect(withFlagNames('input_json is not JSON (Unexpected token)', SCHEDULE_FLAGS)).toBe('--data is not JSON (Unexpected token)');
    expect(withFlagNames("path '/a//b' is invalid: empty segment", CHANNEL_FLAGS)).toBe("--path '/a//b' is invalid: empty segment");
    expect(withFlagNames('timeoutMs 99 is over LANEWAY_MAX_TIMEOUT_MS', CHANNEL_FLAGS)).toBe('--timeout 99 is over LANEWAY_MAX_TIMEOUT_MS');
    const rest = connectionFlags('rest');
    expect(withFlagNames('spec.rest.timeout_ms is 9999999; use 0 (the default) to 600000', rest)).toBe(
      '--timeout is 9999999; use 0 (the default) to 600000',
    );
    expect(withFlagNames('spec.rest.base_url holds credentials: give them in spec.rest.basic, bearer or api_key instead', rest)).toBe(
      '--rest holds credentials: give them in spec.rest.basic, bearer or api_key instead',
    );
    expect(withFlagNames("spec.postgres.host 'db..x' is not a host name or address", connectionFlags('postgres'))).toBe(
      "the host of --postgres 'db..x' is not a host name or address",
    );
  });

  it('leaves the same words alone where they are words of a sentence, and other fields as they are', () => {
    const text = 'service is empty: name the deployed service this schedule invokes';
    expect(withFlagNames(text, SCHEDULE_FLAGS)).toBe('--service is empty: name the deployed service this schedule invokes');
    expect(withFlagNames("timezone 'x' applies to cron only", SCHEDULE_FLAGS)).toBe("--tz 'x' applies to cron only");
    expect(withFlagNames("schedule name 'a b' is invalid", SCHEDULE_FLAGS)).toBe("schedule name 'a b' is invalid");
    expect(withFlagNames('files[0].path is empty', CHANNEL_FLAGS)).toBe('files[0].path is empty');
  });
});

describe('namingFlags', () => {
  const refused = (code: string, detail: string) => new CliError(`${code}: ${detail}`, { code, detail });

  it('rethrows an INVALID_ARGUMENT or RESOURCE_EXHAUSTED naming the flags, keeping the code', async () => {
    const error = await namingFlags(SCHEDULE_FLAGS, () => Promise.reject(refused('INVALID_ARGUMENT', "timezone 'x' is not an IANA time zone"))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect(error).toMatchObject({ message: "INVALID_ARGUMENT: --tz 'x' is not an IANA time zone", code: 'INVALID_ARGUMENT', detail: "--tz 'x' is not an IANA time zone", exitCode: 1 });
    await expect(namingFlags(CHANNEL_FLAGS, () => Promise.reject(refused('RESOURCE_EXHAUSTED', 'timeout_ms 999 is over the limit')))).rejects.toThrow(
      'RESOURCE_EXHAUSTED: --timeout 999 is over the limit',
    );
  });

  it('leaves other errors and answers alone', async () => {
    const notFound = refused('NOT_FOUND', "service 'x' is not deployed");
    await expect(namingFlags(SCHEDULE_FLAGS, () => Promise.reject(notFound))).rejects.toBe(notFound);
    await expect(namingFlags(SCHEDULE_FLAGS, () => Promise.resolve(42))).resolves.toBe(42);
  });
});
