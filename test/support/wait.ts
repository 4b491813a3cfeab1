export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 20 ms until it holds or `timeoutMs` passes; answers whether it held. */
export async function eventually(condition: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await sleep(20);
  }
  return condition();
}

/** Like `eventually`, but throws when `condition` never held. */
export async function waitFor(condition: () => boolean, timeoutMs = 8000): Promise<void> {
  if (!(await eventually(condition, timeoutMs))) throw new Error('condition not met in time');
}
