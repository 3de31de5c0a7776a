/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The p-th percentile (0-100) by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

/** One line: the figure, its target, and whether it meets it. */
export function report(label: string, value: number, unit: string, target: { op: '<' | '>'; value: number } | undefined, extra = ''): void {
  const verdict = target ? ((target.op === '<' ? value < target.value : value > target.value) ? 'meets' : 'MISSES') : '';
  const targetText = target ? `target ${target.op} ${target.value} ${unit}: ${verdict}` : '';
  console.log(`${label.padEnd(44)} ${String(round(value)).padStart(10)} ${unit.padEnd(6)} ${targetText}${extra ? `  ${extra}` : ''}`);
}
