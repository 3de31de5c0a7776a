import net from 'node:net';

/**
 * The host part of a gRPC listen address (`host:port`, `[v6]:port`, `dns:host:port`), lower-cased and
 * without brackets; `''` when only a port is given (grpc-js then listens on every interface).
 * Undefined for a Unix socket (`unix:PATH`), which has no host.
 */
export function listenHost(address: string): string | undefined {
  let rest = address.trim();
  if (/^unix(-abstract)?:/i.test(rest)) return undefined;
  rest = rest.replace(/^(dns:(\/\/[^/]*\/)?|ipv4:|ipv6:)/i, '');
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    return (end > 0 ? rest.slice(1, end) : rest.slice(1)).toLowerCase();
  }
  const colon = rest.lastIndexOf(':');
  // A bare IPv6 address has several colons; `::1:50051` is ambiguous, so only `a:b` splits cleanly.
  if (colon < 0) return rest.toLowerCase();
  if (rest.indexOf(':') !== colon && net.isIPv6(rest)) return rest.toLowerCase();
  return rest.slice(0, colon).toLowerCase();
}

/** True for an address only this host can reach: localhost, 127.0.0.0/8, ::1 or a Unix socket. */
export function isLoopbackAddress(address: string): boolean {
  const host = listenHost(address);
  if (host === undefined) return true;
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) {
    if (host === '::1' || /^(0+:){7}0*1$/.test(host)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
    return mapped !== null && mapped[1]!.startsWith('127.');
  }
  return false;
}

/** True when the address listens on every interface (`0.0.0.0`, `::` or no host). */
export function isWildcardAddress(address: string): boolean {
  const host = listenHost(address);
  return host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';
}
