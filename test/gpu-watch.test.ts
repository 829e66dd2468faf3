/**
 * The page's watch on GPU work (src/page/gpu-watch.ts), on a stand-in queue
 * whose work finishes when the test says: nothing is reported while work
 * finishes in time; work left unfinished past the stall time is reported
 * once a second with how long it has waited; the report is withdrawn when
 * it finishes; submits keep reaching the real queue.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GPU_STALL_MS, GpuStalledError, GpuWatch, type WatchedQueue, stallMessage } from '../src/page/gpu-watch';

/** A queue whose onSubmittedWorkDone promises settle, in order, when `finishOne` is called. */
function standInQueue() {
  const submitted: unknown[] = [];
  const done: (() => void)[] = [];
  const queue: WatchedQueue = {
    submit: (buffers) => { submitted.push(...buffers); },
    onSubmittedWorkDone: () => new Promise<undefined>((resolve) => done.push(() => resolve(undefined))),
  };
  return { queue, submitted, finishOne: async () => { done.shift()!(); await Promise.resolve(); await Promise.resolve(); } };
}

describe('GpuWatch', () => {
  let clock = 0;
  beforeEach(() => { vi.useFakeTimers(); clock = 0; });
  afterEach(() => { vi.useRealTimers(); });
  /** Move the clock and the timers together, a second at a time (the watch looks once a second). */
  const advance = (ms: number) => {
    for (let left = ms; left > 0; left -= 1_000) {
      const step = Math.min(1_000, left);
      clock += step;
      vi.advanceTimersByTime(step);
    }
  };

  it('says nothing while work finishes in time, and passes every submit to the queue', async () => {
    const heard: (number | undefined)[] = [];
    const watch = new GpuWatch((w) => heard.push(w), GPU_STALL_MS, () => clock);
    const q = standInQueue();
    watch.watch(q.queue);
    q.queue.submit(['a' as unknown as GPUCommandBuffer]);
    q.queue.submit(['b' as unknown as GPUCommandBuffer]);
    expect(q.submitted).toEqual(['a', 'b']);
    advance(GPU_STALL_MS - 1);
    expect(watch.stalledFor()).toBeUndefined();
    await q.finishOne();
    await q.finishOne();
    advance(3 * GPU_STALL_MS);
    expect(watch.stalledFor()).toBeUndefined();
    expect(heard).toEqual([]);
  });

  it('reports work unfinished past the stall time, with how long it waited, and withdraws the report when it finishes', async () => {
    const heard: (number | undefined)[] = [];
    const watch = new GpuWatch((w) => heard.push(w), 5_000, () => clock);
    const q = standInQueue();
    watch.watch(q.queue);
    q.queue.submit([]);
    advance(4_000);
    expect(heard).toEqual([]);
    advance(3_000);
    expect(watch.stalledFor()).toBe(7_000);
    expect(heard).toEqual([5_000, 6_000, 7_000]);
    // a later submit queues behind the stalled one: still the oldest that counts
    q.queue.submit([]);
    advance(1_000);
    expect(watch.stalledFor()).toBe(8_000);
    await q.finishOne();
    expect(watch.stalledFor(), 'the one left was submitted 1 s ago').toBeUndefined();
    await q.finishOne();
    expect(heard.at(-1)).toBeUndefined();
    const reports = heard.length;
    advance(10_000);
    expect(heard.length).toBe(reports);
  });

  it('its messages say what may have happened, what to do, and what still works', () => {
    expect(stallMessage(12_400)).toMatch(/^The GPU has not finished work submitted 12 s ago: .*never ends.*reload the page.*restart the browser.*new GPU runs are refused; Learn and Memory work without the GPU\.$/);
    expect(new GpuStalledError(31_000).message).toBe('Not run: the GPU has not finished work submitted 31 s ago (see the notice at the top of the page).');
  });
});
