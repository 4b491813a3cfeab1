/**
 * The normalised form of a scope: split on whitespace, duplicates dropped, sorted, joined by one space, so that
 * `'write read'`, `'read  write read'` and `['read', 'write']` are one cache identity. `undefined` for no scope.
 * @example normalizeScope('write read') === 'read write'
 */
export function normalizeScope(scope: string | readonly string[] | undefined): string | undefined {
  if (scope === undefined) return undefined;
  const names = typeof scope === 'string' ? scope.split(/\s+/) : scope.flatMap((name) => name.split(/\s+/));
  const unique = [...new Set(names.filter((name) => name !== ''))].sort();
  return unique.length === 0 ? undefined : unique.join(' ');
}
