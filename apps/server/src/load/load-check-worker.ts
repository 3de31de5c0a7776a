// Entry point of the load-check thread (bundled to load-check-worker.js beside the server's main.js).
// It evaluates new network-lane modules before the main thread does, under a heap limit, so that a
// module that exhausts the heap or ends its thread costs this thread and not the server. What it
// evaluates is dropped at once; the main thread evaluates the modules that passed.
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { evaluateServiceModules, retainSharedModules } from '@laneway/runtime';
import { describeLoadFailure } from './describe-load-failure';
import type { FromLoadChecker, LoadCheckerData, ToLoadChecker } from './load-check-messages';
import { LoadProgress } from './load-progress';

const port = parentPort;
if (!port) throw new Error('load-check-worker must run in a worker thread');
const data = workerData as LoadCheckerData;
const progress = new LoadProgress(data.progress);
const send = (message: FromLoadChecker): void => port.postMessage(message);
const heap = { limitMb: data.maxHeapMb, setting: 'LANEWAY_LOAD_MAX_HEAP_MB' };

// Timers and promises that checked code left behind must not end the thread: its death would be
// blamed on whichever module is loading at the time. Leftovers get the thread replaced instead.
process.on('uncaughtException', () => undefined);
process.on('unhandledRejection', () => undefined);

port.on('message', (message: ToLoadChecker) => {
  const { id, sources, chunk } = message;
  if (!sources.length) {
    progress.finish();
    send({ t: 'checked', id, from: 0, to: 0, failures: [], health: health() });
    return;
  }
  // Every chunk in this one turn: callbacks that checked code scheduled run only after the last.
  for (let from = 0; from < sources.length; from += chunk) {
    const part = sources.slice(from, from + chunk);
    const outcomes = evaluateServiceModules(part, { timeoutMs: data.timeoutMs, onModule: (i) => progress.enter(from + i) });
    const failures = outcomes.flatMap((outcome, i) =>
      outcome.ok
        ? []
        : [{ index: from + i, message: describeLoadFailure(part[i]!.filename, { kind: 'module', error: outcome.error, timeoutMs: data.timeoutMs, heap }) }],
    );
    const to = from + part.length;
    if (to < sources.length) {
      progress.leave();
      send({ t: 'checked', id, from, to, failures });
      continue;
    }
    progress.finish();
    // What it evaluated is dropped, the helpers the modules imported too.
    retainSharedModules([]);
    send({ t: 'checked', id, from, to, failures, health: health() });
  }
});

function health(): FromLoadChecker['health'] {
  const resources = process.getActiveResourcesInfo();
  return {
    heapMb: getHeapStatistics().used_heap_size / 1048576,
    // This thread's own port is the one resource it holds between checks.
    leftRunning: resources.filter((r) => r !== 'MessagePort').length > 0 || resources.length > 1,
  };
}
