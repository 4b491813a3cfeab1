import { readFileSync } from 'node:fs';

/** The machine's CPU time counters from `/proc/stat` (clock ticks, all cores): steal and the total. */
function stealAndTotal(stat: string): { steal: number; total: number } | undefined {
  const line = stat.split('\n').find((row) => row.startsWith('cpu '));
  if (line === undefined) return undefined;
  // user nice system idle iowait irq softirq steal (guest and guest_nice are counted in user and nice already).
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 8 || fields.some((field) => !Number.isFinite(field))) return undefined;
  return { steal: fields[7], total: fields.reduce((sum, field) => sum + field, 0) };
}

/**
 * Starts measuring the share of the machine's CPU time the hypervisor stole (time a virtual CPU wanted to run and did
 * not): the returned function gives the share since the start (0–1), or undefined where `/proc/stat` is not there.
 * On a shared VM it is the noise the ratios have to stand against.
 */
export function stealMeter(
  read: () => string = () => readFileSync('/proc/stat', 'utf8'),
): () => number | undefined {
  const sample = (): { steal: number; total: number } | undefined => {
    try {
      return stealAndTotal(read());
    } catch {
      return undefined;
    }
  };
  const before = sample();
  return () => {
    const after = sample();
    if (before === undefined || after === undefined || after.total <= before.total) return undefined;
    return (after.steal - before.steal) / (after.total - before.total);
  };
}
