import { describe, it, expect, jest, afterEach } from '@jest/globals';
import { RouteAdmission, type AdmissionRefusal } from './route-admission.js';

function tracker() {
  const events: string[] = [];
  return {
    events,
    admitted: (name: string) => () => events.push(`${name}:admitted`),
    refused: (name: string) => (reason: AdmissionRefusal) => events.push(`${name}:${reason}`),
  };
}

describe('RouteAdmission', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('admits up to capacity at once, queues the rest in order and admits them as slots free up', () => {
    jest.useFakeTimers(); // the queued requests' timers are left pending: fake, so none outlives the test
    const admission = new RouteAdmission({ capacity: 2, queueTimeoutMs: 1000, maxPerClient: 0 });
    const t = tracker();
    const endA = admission.admit('a', t.admitted('a1'), t.refused('a1'));
    admission.admit('b', t.admitted('b1'), t.refused('b1'));
    admission.admit('c', t.admitted('c1'), t.refused('c1'));
    admission.admit('d', t.admitted('d1'), t.refused('d1'));
    expect(t.events).toEqual(['a1:admitted', 'b1:admitted']);
    expect(admission.load).toEqual({ inFlight: 2, waiting: 2 });
    endA();
    endA();
    expect(t.events).toEqual(['a1:admitted', 'b1:admitted', 'c1:admitted']);
    expect(admission.load).toEqual({ inFlight: 2, waiting: 1 });
  });

  it('refuses a queued request with queue-timeout once the wait runs out, and frees its place', () => {
    jest.useFakeTimers();
    const admission = new RouteAdmission({ capacity: 1, queueTimeoutMs: 500, maxPerClient: 0 });
    const t = tracker();
    admission.admit('a', t.admitted('a'), t.refused('a'));
    const endB = admission.admit('b', t.admitted('b'), t.refused('b'));
    jest.advanceTimersByTime(499);
    expect(t.events).toEqual(['a:admitted']);
    jest.advanceTimersByTime(1);
    expect(t.events).toEqual(['a:admitted', 'b:queue-timeout']);
    endB();
    expect(admission.load).toEqual({ inFlight: 1, waiting: 0 });
  });

  it('takes a caller that left out of the queue, so it is never admitted', () => {
    const admission = new RouteAdmission({ capacity: 1, queueTimeoutMs: 1000, maxPerClient: 0 });
    const t = tracker();
    const endA = admission.admit('a', t.admitted('a'), t.refused('a'));
    const endB = admission.admit('b', t.admitted('b'), t.refused('b'));
    endB();
    endA();
    expect(t.events).toEqual(['a:admitted']);
    expect(admission.load).toEqual({ inFlight: 0, waiting: 0 });
  });

  it('caps one client, waiting requests included, while another client still gets through', () => {
    jest.useFakeTimers(); // as above: requests left queued at the end
    const admission = new RouteAdmission({ capacity: 1, queueTimeoutMs: 1000, maxPerClient: 2 });
    const t = tracker();
    const endA1 = admission.admit('a', t.admitted('a1'), t.refused('a1'));
    admission.admit('a', t.admitted('a2'), t.refused('a2'));
    admission.admit('a', t.admitted('a3'), t.refused('a3'));
    admission.admit('b', t.admitted('b1'), t.refused('b1'));
    expect(t.events).toEqual(['a1:admitted', 'a3:client-cap']);
    endA1();
    expect(t.events).toEqual(['a1:admitted', 'a3:client-cap', 'a2:admitted']);
    admission.admit('a', t.admitted('a4'), t.refused('a4'));
    admission.admit('a', t.admitted('a5'), t.refused('a5'));
    expect(t.events.slice(3)).toEqual(['a5:client-cap']);
    expect(admission.load).toEqual({ inFlight: 1, waiting: 2 });
  });

  it('refuses at once with a zero queue timeout when every slot is taken', () => {
    const admission = new RouteAdmission({ capacity: 1, queueTimeoutMs: 0, maxPerClient: 0 });
    const t = tracker();
    admission.admit('a', t.admitted('a'), t.refused('a'));
    admission.admit('b', t.admitted('b'), t.refused('b'));
    expect(t.events).toEqual(['a:admitted', 'b:queue-timeout']);
    expect(admission.load).toEqual({ inFlight: 1, waiting: 0 });
  });
});
