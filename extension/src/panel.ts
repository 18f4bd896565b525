// The "ToRSh" side panel (package.json "extension"): live memory and dispatch counts of the
// current notebook's kernel, polled every 2 s with a silent execute while the panel is visible
// (poll.ts). Memory is shown only if the kernel already counts it: a button turns counting on.
// A poll waits behind a running cell, so once torsh answers, the panel opens a comm and the kernel
// pushes its stats twice a second from a thread (torsh/viz/_publisher.py), also while cells run;
// polls pause meanwhile. Hiding the panel or switching notebooks closes the comm.

import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { formatBytes } from './graph-layout';
import { htmlEl } from './svg';
import { PollSchedule } from './poll';
import { sourceLinksPlugin } from './source-links';
import { checkStats, KernelStats, LIVE_CODE, LIVE_TARGET, parseStats, START_MEMORY_CODE, STATS_CODE } from './stats';

const POLL_MS = 2000;
const LIVE_MS = 500; // what the panel asks of the kernel's feed (the kernel never goes faster)

/** The comm on which a kernel pushes its stats, with that kernel. */
interface LiveFeed {
  comm: Kernel.IComm;
  kernel: Kernel.IKernelConnection;
}

export class TorshPanel extends Widget {
  readonly polls = new PollSchedule(() => void this.poll(), POLL_MS, undefined, () => this.isLive());
  private busy = false;
  private live: LiveFeed | null = null;
  private opening = false;
  private readonly status: HTMLElement;
  private readonly body: HTMLElement;

  constructor(private readonly notebooks: INotebookTracker) {
    super();
    this.id = 'torsh-panel';
    this.title.label = 'ToRSh';
    this.title.caption = 'torsh: live memory and kernel dispatch of the current notebook';
    this.addClass('torsh-panel');
    htmlEl('h3', {}, this.node, 'ToRSh');
    this.status = htmlEl('div', { class: 'torsh-panel-status' }, this.node, 'waiting for a notebook kernel');
    this.body = htmlEl('div', { class: 'torsh-panel-body' }, this.node);
  }

  protected onAfterShow(): void {
    this.polls.shown();
  }

  protected onAfterHide(): void {
    this.polls.hidden(); // nobody looks: do not keep the kernel busy
    this.stopLive();
  }

  dispose(): void {
    this.polls.hidden();
    this.stopLive();
    super.dispose();
  }

  /** Another notebook became current: drop the old kernel's feed, show the new kernel if visible. */
  notebookChanged(): void {
    this.stopLive();
    this.polls.notebookChanged();
  }

  private currentKernel(): Kernel.IKernelConnection | null {
    return this.notebooks.currentWidget?.sessionContext.session?.kernel ?? null;
  }

  /** True while the current kernel pushes its stats on an open comm. */
  isLive(): boolean {
    return this.live !== null && !this.live.comm.isDisposed && this.live.kernel === this.currentKernel();
  }

  /** Ask the kernel for its feed (torsh is imported there: a poll just answered), if visible and not yet live. */
  private async startLive(kernel: Kernel.IKernelConnection): Promise<void> {
    if (this.opening || this.isLive() || !this.polls.active) {
      return;
    }
    this.opening = true;
    this.stopLive();
    try {
      const reply = await kernel.requestExecute({ code: LIVE_CODE, silent: true, store_history: false }).done;
      if (reply.content.status !== 'ok' || !this.polls.active || kernel !== this.currentKernel()) {
        return; // an older torsh without the feed keeps being polled
      }
      const comm = kernel.createComm(LIVE_TARGET);
      comm.onMsg = msg => this.showLive_(comm, msg.content.data);
      comm.onClose = () => {
        if (this.live?.comm === comm) {
          this.live = null;
        }
      };
      this.live = { comm, kernel };
      comm.open({ interval_ms: LIVE_MS }).done.catch(() => undefined);
    } catch {
      this.live = null; // polling goes on
    } finally {
      this.opening = false;
    }
  }

  /** Close the feed: the kernel stops its publisher thread (once it handles the close). */
  stopLive(): void {
    const live = this.live;
    this.live = null;
    this.status.classList.remove('torsh-live');
    if (live && !live.comm.isDisposed) {
      try {
        live.comm.close().done.catch(() => undefined);
      } catch {
        // the kernel is gone: nothing to stop
      }
    }
  }

  private showLive_(comm: Kernel.IComm, data: unknown): void {
    if (this.live?.comm !== comm) {
      return;
    }
    const result = checkStats(data);
    if ('error' in result) {
      this.status.textContent = result.error;
      return;
    }
    this.status.textContent = `kernel ${this.live.kernel.name}, live, updated ${new Date().toLocaleTimeString()}`;
    this.status.classList.add('torsh-live');
    this.show_(result.stats);
  }

  /** One request at a time: a kernel busy with a long cell queues it, and we wait for it. */
  async poll(): Promise<void> {
    const kernel = this.notebooks.currentWidget?.sessionContext.session?.kernel;
    if (!kernel) {
      this.status.textContent = 'no notebook kernel';
      return;
    }
    if (this.busy) {
      return;
    }
    this.busy = true;
    let stdout = '';
    let error = '';
    try {
      const future = kernel.requestExecute({ code: STATS_CODE, silent: true, store_history: false });
      future.onIOPub = msg => {
        if (KernelMessage.isStreamMsg(msg) && msg.content.name === 'stdout') {
          stdout += msg.content.text;
        } else if (KernelMessage.isErrorMsg(msg)) {
          error = `${msg.content.ename}: ${msg.content.evalue}`;
        }
      };
      await future.done;
    } catch (err) {
      error = String(err);
    } finally {
      this.busy = false;
    }
    const result = error ? { error } : parseStats(stdout);
    if ('error' in result) {
      this.status.textContent = result.error;
      this.body.replaceChildren();
    } else {
      this.status.textContent = `kernel ${kernel.name}, updated ${new Date().toLocaleTimeString()}`;
      this.status.classList.remove('torsh-live');
      this.show_(result.stats);
      void this.startLive(kernel);
    }
  }

  private show_(stats: KernelStats): void {
    this.body.replaceChildren();
    const mem = htmlEl('table', { class: 'torsh-table torsh-memory-table' }, this.body);
    const row = (table: HTMLElement, cells: string[], cls = '') => {
      const tr = htmlEl('tr', cls ? { class: cls } : {}, table);
      cells.forEach(c => htmlEl('td', {}, tr, c));
    };
    if (stats.memory === null) {
      this.showMemoryOff_(mem);
    } else {
      this.showMemory_(mem, stats.memory, row);
    }
    htmlEl('h4', {}, this.body, 'dispatch');
    const dispatch = htmlEl('table', { class: 'torsh-table torsh-dispatch-table' }, this.body);
    const head = htmlEl('tr', {}, dispatch);
    ['op', 'variant', 'count'].forEach(h => htmlEl('th', {}, head, h));
    for (const d of [...stats.dispatch].sort((a, b) => b.count - a.count)) {
      row(dispatch, [d.op, d.variant, String(d.count)]);
    }
    const kernels = Object.entries(stats.kernels ?? {});
    if (kernels.length) {
      htmlEl('div', { class: 'torsh-kernels' }, this.body,
        'compiled kernels: ' + kernels.map(([k, ok]) => `${k} ${ok ? '✓' : '✗'}`).join(', '));
    }
  }

  private showMemory_(mem: HTMLElement, memory: NonNullable<KernelStats['memory']>,
    row: (table: HTMLElement, cells: string[], cls?: string) => void): void {
    row(mem, ['allocated', formatBytes(memory.allocated_bytes)], 'torsh-allocated');
    row(mem, ['peak', formatBytes(memory.peak_bytes)], 'torsh-peak');
    for (const [category, bytes] of Object.entries(memory.by_category ?? {}).filter(([c]) => c !== 'total')) {
      row(mem, [`  ${category}`, formatBytes(bytes)]);
    }
    mem.querySelector('.torsh-allocated')?.setAttribute('data-bytes', String(memory.allocated_bytes));
  }

  /** Counting is off in the kernel (it costs every tensor ~1-3 us): say so, and offer to start it. */
  private showMemoryOff_(mem: HTMLElement): void {
    const tr = htmlEl('tr', { class: 'torsh-memory-off' }, mem);
    htmlEl('td', {}, tr, 'memory counting is off');
    const button = htmlEl('button', { class: 'jp-Button torsh-start-memory' }, htmlEl('td', {}, tr),
      'start memory counting');
    button.title = 'count tensor memory in this kernel from now on (stays on: ~1-3 us per tensor)';
    button.onclick = () => void this.startMemoryCounting();
  }

  /** Turn memory counting on in the current kernel (explicitly, at the user's request), then refresh. */
  async startMemoryCounting(): Promise<void> {
    const kernel = this.notebooks.currentWidget?.sessionContext.session?.kernel;
    if (!kernel) {
      return;
    }
    try {
      await kernel.requestExecute({ code: START_MEMORY_CODE, silent: true, store_history: false }).done;
    } catch (err) {
      this.status.textContent = String(err);
      return;
    }
    await this.poll();
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'torsh-jupyterlab:panel',
  description: 'ToRSh side panel: live memory and dispatch stats of the current kernel',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ILabShell],
  activate: (app: JupyterFrontEnd, notebooks: INotebookTracker) => {
    const panel = new TorshPanel(notebooks);
    app.shell.add(panel, 'right', { rank: 900 });
    notebooks.currentChanged.connect(() => panel.notebookChanged()); // polls only if visible
  }
};

export default [plugin, sourceLinksPlugin];
