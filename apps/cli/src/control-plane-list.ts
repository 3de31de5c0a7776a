/** A host name, an IPv4 address or a bracketed IPv6 address, then a port. */
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;

/**
 * LANEWAY_CONTROL_PLANE or `--control-plane`: one `HOST:PORT`, or several separated by commas (control planes sharing one
 * PostgreSQL database), in the order they are tried. Returns the addresses, or what is wrong with the
 * first bad entry (the caller names the variable or flag and its value). The server parses its
 * LANEWAY_CONTROL_PLANE by the same rules.
 */
export function parseControlPlaneList(value: string): { addresses: string[] } | { problem: string } {
  const entries = value.split(',').map((entry) => entry.trim());
  const addresses: string[] = [];
  for (const entry of entries) {
    if (entry === '') {
      return { problem: 'an empty entry (two commas in a row, or a comma at an end): give HOST:PORT[,HOST:PORT...]' };
    }
    const port = HOST_PORT.exec(entry)?.[1];
    if (port === undefined) return { problem: `entry "${entry}" is not HOST:PORT (e.g. 127.0.0.1:50051)` };
    if (Number(port) < 1 || Number(port) > 65_535) return { problem: `entry "${entry}" has port ${port}, not 1-65535` };
    if (addresses.includes(entry)) return { problem: `entry "${entry}" is listed twice` };
    addresses.push(entry);
  }
  return { addresses };
}
