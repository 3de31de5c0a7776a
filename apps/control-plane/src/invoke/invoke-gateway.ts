import type { LaneClient } from '@laneway/lanes';
import { InvalidArgumentError, NotFoundError } from '../errors';
import type { ClusterStore } from '../store';

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_TIMEOUT_MS = 15 * 60_000;

/** Invoke / InvokeAsync: finds the service's lane in the store and queues the call on it. */
export class InvokeGateway {
  constructor(
    private readonly store: ClusterStore,
    private readonly lanes: LaneClient,
  ) {}

  async invoke(
    cluster: string,
    service: string,
    inputJson: string,
    timeoutMs: number,
  ): Promise<{ outputJson: string; server: string; version: string }> {
    const input = parseInput(inputJson);
    const lane = await this.laneOf(cluster, service);
    if (timeoutMs > MAX_TIMEOUT_MS) {
      throw new InvalidArgumentError('timeout_ms', `timeout_ms ${timeoutMs} is above the limit of ${MAX_TIMEOUT_MS}`);
    }
    const result = await this.lanes.invoke({ cluster, lane, service, input, timeoutMs: timeoutMs || DEFAULT_TIMEOUT_MS });
    return { outputJson: JSON.stringify(result.output ?? null), server: result.server, version: result.version };
  }

  async invokeAsync(cluster: string, service: string, inputJson: string): Promise<string> {
    const input = parseInput(inputJson);
    const lane = await this.laneOf(cluster, service);
    return this.lanes.invokeAsync({ cluster, lane, service, input });
  }

  private async laneOf(cluster: string, service: string): Promise<'network' | 'cpu'> {
    if (!service) throw new InvalidArgumentError('service', 'service is empty: give the name of the service to invoke');
    const record = await this.store.getService(cluster, service);
    if (!record) {
      throw new NotFoundError('service', service, `service '${service}' is not deployed in cluster '${cluster}'`);
    }
    return record.lane;
  }
}

function parseInput(inputJson: string): unknown {
  if (inputJson === '') return null;
  try {
    return JSON.parse(inputJson) as unknown;
  } catch (err) {
    const shown = inputJson.length > 80 ? `${inputJson.slice(0, 80)}...` : inputJson;
    throw new InvalidArgumentError('input_json', `input_json is not valid JSON (${(err as Error).message}): '${shown}'`);
  }
}
