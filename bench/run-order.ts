/**
 * The order of the measured runs of interleaved rounds: every configuration once per round (A B C … A B C …), and the
 * baseline also right before each `bracketed` configuration (unless it ran just before) and once more at the end, so
 * that every bracketed run has a baseline run on either side of it. On this kind of shared machine the speed of the
 * whole VM drifts within seconds; a ratio against the baseline runs next to a run follows that drift, where one
 * against the baseline's run at the start of the round (up to half a minute earlier) does not.
 * The closing baseline run counts as the last round's.
 * @example runOrder(['direct', 'thin', 'gw'], 2, 'thin', new Set(['gw'])).map((run) => run.name)
 * // ['direct', 'thin', 'gw', 'direct', 'thin', 'gw', 'thin']
 */
export function runOrder(
  names: readonly string[],
  rounds: number,
  baseline: string,
  bracketed: ReadonlySet<string>,
): Array<{ name: string; round: number }> {
  const order: Array<{ name: string; round: number }> = [];
  const lastName = (): string | undefined => order[order.length - 1]?.name;
  const hasBaseline = names.includes(baseline);
  for (let round = 1; round <= rounds; round++) {
    for (const name of names) {
      if (hasBaseline && bracketed.has(name) && name !== baseline && lastName() !== baseline)
        order.push({ name: baseline, round });
      order.push({ name, round });
    }
  }
  const last = lastName();
  if (hasBaseline && last !== undefined && bracketed.has(last) && last !== baseline)
    order.push({ name: baseline, round: rounds });
  return order;
}

/**
 * For each run of `order`, the indices among the baseline's own runs of the baseline runs nearest it on either side
 * (the one before and the one after; one of them at the start or the end; none for the baseline's own runs).
 */
export function baselineNeighbours(order: ReadonlyArray<{ name: string }>, baseline: string): number[][] {
  const positions: number[] = [];
  order.forEach(({ name }, position) => {
    if (name === baseline) positions.push(position);
  });
  let next = 0;
  return order.map(({ name }, position) => {
    if (name === baseline) {
      next++;
      return [];
    }
    const neighbours: number[] = [];
    if (next > 0) neighbours.push(next - 1);
    if (next < positions.length && positions[next] > position) neighbours.push(next);
    return neighbours;
  });
}
