// A user's `npm ci` prints no warnings: every package the lockfile can install accepts the Node versions
// the root package.json promises (npm warns EBADENGINE for each one that does not, as moleculer 0.15,
// moleculer-web 0.11 and cookie 2 did on Node 20).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { ROOT } from '@laneway/testkit';

interface LockedPackage {
  version?: string;
  engines?: Record<string, string> | string[];
}

const root = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines?: { node?: string } };
const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockedPackage> };

/** The lockfile's packages (every platform's, optional ones too) whose engines.node refuses `version`. */
function refusing(version: string): string[] {
  return Object.entries(lock.packages).flatMap(([where, pkg]) => {
    const wanted = pkg.engines && !Array.isArray(pkg.engines) ? pkg.engines['node'] : undefined;
    if (!where || !wanted || semver.satisfies(version, wanted, { includePrerelease: true })) return [];
    return [`${where.replace(/^.*node_modules\//, '')}@${pkg.version ?? '?'} wants node ${wanted}`];
  });
}

describe('the install', () => {
  const supported = root.engines?.node;

  it('states which Node versions it supports', () => {
    expect(supported).toBeDefined();
    expect(semver.validRange(supported)).not.toBeNull();
  });

  it('installs only packages that accept the oldest Node the root package.json admits', () => {
    const oldest = semver.minVersion(supported!)!.version;
    expect(refusing(oldest)).toEqual([]);
  });

  it('installs only packages that accept the Node running this test (npm ci would warn EBADENGINE otherwise)', () => {
    expect(semver.satisfies(process.versions.node, supported!)).toBe(true);
    expect(refusing(process.versions.node)).toEqual([]);
  });
});
