// When the side panel asks the kernel for stats: every POLL_MS while it is visible, once when it
// is shown, and on a notebook switch only if visible. A hidden panel sends nothing, so a kernel
// nobody watches runs no extra code. While the kernel pushes stats itself (the live comm, see
// panel.ts), timer ticks send nothing either. Pure (the timer is injected) so vitest can drive it.

/** The two timer calls used; the browser's by default, a fake one in tests. */
export interface IntervalTimer {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const globalTimer: IntervalTimer = {
  setInterval: (callback, ms) => globalThis.setInterval(callback, ms),
  clearInterval: handle => globalThis.clearInterval(handle as ReturnType<typeof globalThis.setInterval>)
};

export class PollSchedule {
  private handle: unknown = null;

  constructor(
    private readonly poll: () => void,
    private readonly intervalMs: number,
    private readonly timer: IntervalTimer = globalTimer,
    /** True while the kernel pushes its stats: ticks are skipped, the panel need not ask. */
    private readonly pushed: () => boolean = () => false
  ) {}

  private readonly tick = (): void => {
    if (!this.pushed()) {
      this.poll();
    }
  };

  /** True while the panel is visible (and so polling). */
  get active(): boolean {
    return this.handle !== null;
  }

  /** The panel became visible: poll now, then every interval. */
  shown(): void {
    if (this.active) {
      return;
    }
    this.handle = this.timer.setInterval(this.tick, this.intervalMs);
    this.poll();
  }

  /** The panel was hidden (or disposed): stop polling. */
  hidden(): void {
    if (this.active) {
      this.timer.clearInterval(this.handle);
      this.handle = null;
    }
  }

  /** Another notebook became current: show its kernel at once, if anybody looks. */
  notebookChanged(): void {
    if (this.active) {
      this.poll();
    }
  }
}
