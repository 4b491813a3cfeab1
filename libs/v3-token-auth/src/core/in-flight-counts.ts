/**
 * How many of something each key has in flight (attempts waiting for the issuer's answer, cold grants under way):
 * a count per key that is added to when one starts and taken from when it ends, and forgets a key at zero, so
 * memory stays with the keys that have one in flight.
 * @example
 * const counts = new InFlightCounts();
 * counts.add('a'); counts.of('a'); // 1
 * counts.remove('a'); counts.of('a'); // 0
 */
export class InFlightCounts {
  private readonly counts = new Map<string, number>();

  /** How many `key` has in flight. */
  of(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** One more of `key` is in flight. */
  add(key: string): void {
    this.counts.set(key, this.of(key) + 1);
  }

  /** One of `key` is over; a key with none left is forgotten. */
  remove(key: string): void {
    const count = this.of(key) - 1;
    if (count > 0) this.counts.set(key, count);
    else this.counts.delete(key);
  }
}
