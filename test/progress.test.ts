/** The CLI's progress lines: quiet for a short step, then every five seconds, and a last line. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { progressLine } from '../src/cli/progress';

afterEach(() => { vi.useRealTimers(); });

describe('progressLine', () => {
  it('says nothing for a step that ends within two seconds', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const lines: string[] = [];
    const report = progressLine('work', (l) => lines.push(l));
    for (let done = 1; done <= 10; done++) { vi.advanceTimersByTime(150); report(done, 10); }
    expect(lines).toEqual([]);
  });

  it('reports after two seconds, then every five, and at the end', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const lines: string[] = [];
    const report = progressLine('work', (l) => lines.push(l));
    for (let done = 1; done <= 100; done++) { report(done, 100); vi.advanceTimersByTime(250); }
    // first report at t = 0, first line at 2 s (done 9), then every 5 s (20 reports), last at done 100
    expect(lines[0]).toBe('work: 9% (9 of 100), 2 s');
    expect(lines.slice(1, -1).map((l) => Number(/\((\d+) of/.exec(l)![1]))).toEqual([29, 49, 69, 89]);
    expect(lines.at(-1)).toBe('work: 100% (100 of 100), 25 s');
  });
});
