import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The repository's root, whose README the README tests read. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The fenced block of `language` that follows `marker` in the README, exactly as a user would paste it. */
export function readmeBlockAfter(marker: string, language: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no "${marker}" marker`);
  const block = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(readme.slice(at));
  if (!block) throw new Error(`README.md has no \`\`\`${language} block after "${marker}"`);
  return block[1];
}

/**
 * Type-checks `file` (in `dir`) under the repository's tsconfig with the repository's `tsc`; rejects with its
 * diagnostics. Writes `<config>` beside it.
 */
export async function typeCheck(dir: string, file: string, config: string): Promise<void> {
  const tsconfig = join(dir, config);
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: relative(dir, join(ROOT, 'tsconfig.json')),
      compilerOptions: { noEmit: true, rootDir: relative(dir, ROOT) },
      include: [file],
    }),
  );
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', tsconfig]);
}
