// The side panel's polling decision: no kernel request while the panel is hidden, nor while the
// kernel pushes its stats (the live comm).
import { describe, expect, it } from 'vitest';

import { IntervalTimer, PollSchedule } from '../src/poll';

class FakeTimer implements IntervalTimer {
  callbacks = new Map<number, () => void>();
  private next = 1;

  setInterval(callback: () => void): number {
    this.callbacks.set(this.next, callback);
    return this.next++;
  }

  clearInterval(handle: unknown): void {
    this.callbacks.delete(handle as number);
  }

  tick(): void {
    [...this.callbacks.values()].forEach(callback => callback());
  }
}

function schedule(): { polls: () => number; timer: FakeTimer; s: PollSchedule } {
  let count = 0;
  const timer = new FakeTimer();
  return { polls: () => count, timer, s: new PollSchedule(() => count++, 2000, timer) };
}

describe('side panel polling', () => {
  it('sends nothing while hidden, even on notebook switches', () => {
    const { polls, timer, s } = schedule();
    s.notebookChanged();
    s.notebookChanged();
    timer.tick();
    expect(polls()).toBe(0);
    expect(timer.callbacks.size).toBe(0);
  });

  it('polls when shown, on each tick and on notebook switches while visible', () => {
    const { polls, timer, s } = schedule();
    s.shown();
    expect(polls()).toBe(1);
    timer.tick();
    timer.tick();
    s.notebookChanged();
    expect(polls()).toBe(4);
  });

  it('stops when hidden and keeps one timer however often it is shown', () => {
    const { polls, timer, s } = schedule();
    s.shown();
    s.shown();
    expect(timer.callbacks.size).toBe(1);
    s.hidden();
    expect(timer.callbacks.size).toBe(0);
    expect(s.active).toBe(false);
    timer.tick();
    s.notebookChanged();
    expect(polls()).toBe(1);
    s.shown();
    expect(polls()).toBe(2);
    expect(timer.callbacks.size).toBe(1);
  });

  it('skips ticks while the kernel pushes its stats and resumes when the feed ends', () => {
    let count = 0;
    let pushed = false;
    const timer = new FakeTimer();
    const s = new PollSchedule(() => count++, 2000, timer, () => pushed);
    s.shown();
    expect(count).toBe(1); // the first poll is what starts the feed
    pushed = true;
    timer.tick();
    timer.tick();
    expect(count).toBe(1);
    expect(s.active).toBe(true); // still visible: the timer waits for the feed to end
    pushed = false; // the comm closed (kernel restarted)
    timer.tick();
    expect(count).toBe(2);
  });
});
