import { defineService } from '@laneway/sdk';

interface Input {
  name?: string;
}

/** A network-lane service: answers at once. */
export default defineService({
  name: 'hello.greet',
  lane: 'network',
  async handle(input: Input, ctx) {
    ctx.log.info({ name: input?.name }, 'greeting');
    return { greeting: `Hello, ${input?.name ?? 'world'}!`, server: ctx.server };
  },
});

/** A CPU-lane service: sums square roots in a worker thread, off the event loop. */
export const crunch = defineService({
  name: 'hello.crunch',
  lane: 'cpu',
  handle(input: { n?: number }) {
    const n = Math.min(input?.n ?? 1_000_000, 50_000_000);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.sqrt(i);
    return { n, sum: Math.round(sum) };
  },
});
