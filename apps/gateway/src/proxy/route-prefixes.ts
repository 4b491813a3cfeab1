/** Whether `path` is `prefix` itself or lies under it (`/v3`, `/v3/…`, `/v3?…`, never `/v3x`). */
export function isUnder(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  const next = path.charCodeAt(prefix.length);
  return Number.isNaN(next) || next === 0x2f /* / */ || next === 0x3f; /* ? */
}

/**
 * The route prefixes of the data plane, longest first: which route a path belongs to, as the gateway reads it
 * and as a lenient downstream would (case-insensitively, `lenientPathOf` in `forward-path.ts`).
 */
export class RoutePrefixes {
  /** Longest first, so the first match is the longest. */
  private readonly all: readonly string[];
  /** `all` in lower case, index for index. */
  private readonly folded: readonly string[];
  private readonly nesting: ReadonlySet<string>;

  constructor(prefixes: readonly string[]) {
    this.all = [...prefixes].sort((a, b) => b.length - a.length);
    this.folded = this.all.map((prefix) => prefix.toLowerCase());
    const { folded } = this;
    this.nesting = new Set(
      this.all.filter((_, outer) =>
        folded.some((inner, index) => index !== outer && isUnder(inner, folded[outer])),
      ),
    );
  }

  /** The longest prefix `path` (with or without its query) lies under, or undefined. */
  of(path: string): string | undefined {
    for (const prefix of this.all) if (isUnder(path, prefix)) return prefix;
    return undefined;
  }

  /** The longest prefix the lower-cased `path` lies under, compared in lower case; undefined when none. */
  ofFolded(path: string): string | undefined {
    for (let index = 0; index < this.folded.length; index++)
      if (isUnder(path, this.folded[index])) return this.all[index];
    return undefined;
  }

  /** Whether another route's prefix lies under `prefix` (`/orders` when `/orders/admin` is a route too). */
  hasNested(prefix: string): boolean {
    return this.nesting.has(prefix);
  }
}
