import { describe, expect, it } from '@jest/globals';
import { baselineNeighbours, runOrder } from './run-order.js';

const names = (order: ReturnType<typeof runOrder>): string[] => order.map((run) => run.name);

describe('runOrder', () => {
  it('runs the baseline right before every bracketed configuration and once more at the end', () => {
    const order = runOrder(
      ['direct', 'thin', 'other', 'basic', 'redis'],
      2,
      'thin',
      new Set(['basic', 'redis']),
    );
    expect(names(order)).toEqual([
      ...['direct', 'thin', 'other', 'thin', 'basic', 'thin', 'redis'],
      ...['direct', 'thin', 'other', 'thin', 'basic', 'thin', 'redis'],
      'thin',
    ]);
    expect(order.map((run) => run.round)).toEqual([...Array(7).fill(1), ...Array(8).fill(2)]);
  });

  it('adds no baseline run where it ran just before, and none without a baseline among the targets', () => {
    expect(names(runOrder(['thin', 'basic'], 2, 'thin', new Set(['basic'])))).toEqual([
      'thin',
      'basic',
      'thin',
      'basic',
      'thin',
    ]);
    expect(names(runOrder(['direct', 'basic'], 1, 'thin', new Set(['basic'])))).toEqual(['direct', 'basic']);
    expect(names(runOrder(['thin', 'direct'], 2, 'thin', new Set()))).toEqual([
      'thin',
      'direct',
      'thin',
      'direct',
    ]);
  });
});

describe('baselineNeighbours', () => {
  it('gives each run the baseline runs on either side of it, by their index among the baseline’s runs', () => {
    const order = runOrder(['direct', 'thin', 'basic'], 2, 'thin', new Set(['basic']));
    // direct thin basic direct thin basic thin
    expect(baselineNeighbours(order, 'thin')).toEqual([[0], [], [0, 1], [0, 1], [], [1, 2], []]);
  });

  it('gives a run after the last baseline run only the one before it', () => {
    const order = runOrder(['thin', 'direct'], 2, 'thin', new Set());
    expect(baselineNeighbours(order, 'thin')).toEqual([[], [0, 1], [], [1]]);
  });
});
