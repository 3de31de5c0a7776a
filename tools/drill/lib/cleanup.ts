/**
 * Undo steps run last-registered-first, each once, whatever the drill's outcome: a drill that fails
 * halfway still stops its processes and removes its Redis instances, keys, temp dirs and databases.
 */
export class Cleanup {
  private readonly steps: { what: string; run: () => Promise<void> | void }[] = [];
  private readonly reports: { what: string; report: () => string }[] = [];

  add(what: string, run: () => Promise<void> | void): void {
    this.steps.push({ what, run });
  }

  /** What to print when the drill breaks (e.g. a site's process output), read before the cleanup runs. */
  onFailure(what: string, report: () => string): void {
    this.reports.push({ what, report });
  }

  /** The failure reports, each under its heading; '' when none was registered. */
  failureReports(): string {
    return this.reports
      .map(({ what, report }) => {
        try {
          return `--- ${what}\n${report()}`;
        } catch (err) {
          return `--- ${what}: could not be read (${(err as Error).message})`;
        }
      })
      .join('\n');
  }

  async runAll(): Promise<void> {
    while (this.steps.length) {
      const step = this.steps.pop()!;
      try {
        await step.run();
      } catch (err) {
        console.error(`cleanup: ${step.what} failed: ${(err as Error).message}`);
      }
    }
  }
}
