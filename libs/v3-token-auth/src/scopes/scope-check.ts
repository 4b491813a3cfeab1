/** Scopes as a token carries them: a space-separated string (`scope`) or a list (`scp`). */
export type GrantedScopes = string | readonly string[] | undefined;

/** Splits granted scopes into a set; a string is split on spaces. */
export function toScopeSet(granted: GrantedScopes): Set<string> {
  if (granted === undefined) return new Set();
  return new Set(typeof granted === 'string' ? granted.split(' ').filter(Boolean) : granted);
}

/** The required scopes that `granted` lacks, in the order required; empty when every one is granted. */
export function missingScopes(granted: GrantedScopes, required: readonly string[]): string[] {
  if (required.length === 0) return [];
  const have = toScopeSet(granted);
  return required.filter((scope) => !have.has(scope));
}
