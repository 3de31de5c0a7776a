import { InvalidArgumentError } from 'commander';
import { parseControlPlaneList } from '../control-plane-list';

/** `--flag HOST:PORT`: one control plane address, by the rules of `--control-plane` (no list). */
export function hostPortParser(flag: string): (value: string) => string {
  return (value) => {
    const parsed = parseControlPlaneList(value);
    if ('problem' in parsed || parsed.addresses.length !== 1) {
      throw new InvalidArgumentError(`Give one control plane's gRPC address as HOST:PORT, e.g. ${flag} 10.0.0.2:50051.`);
    }
    return parsed.addresses[0]!;
  };
}
