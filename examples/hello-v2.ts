import { defineService } from '@laneway/sdk';

interface Input {
  name?: string;
}

/** A second version of hello.greet (README quickstart: deploy it, then roll back to the first). */
export default defineService({
  name: 'hello.greet',
  lane: 'network',
  async handle(input: Input, ctx) {
    return { greeting: `Welcome, ${input?.name ?? 'world'}!`, server: ctx.server };
  },
});
