let installed = false;

/**
 * grpc-js sets the TLS servername to the target's host, so a target given as an IP address makes Node
 * print DEP0123 ("Setting the TLS ServerName to an IP address is not permitted by RFC 6066") on
 * stderr, once per process. The control plane ignores that SNI and the certificate is still checked
 * against the address, so the warning is noise on the CLI's stderr; only that warning is dropped.
 */
export function ignoreIpServernameWarning(): void {
  if (installed) return;
  installed = true;
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    const [, typeOrOptions, code] = args;
    const warningCode =
      typeof typeOrOptions === 'object' && typeOrOptions !== null
        ? (typeOrOptions as { code?: unknown }).code
        : code;
    if (warningCode === 'DEP0123') return;
    emitWarning(...args);
  }) as typeof process.emitWarning;
}
