// torsh.viz.kernel_stats() output (docs/schemas/stats.schema.json), as the side panel reads it.

export interface KernelStats {
  version: number;
  /** null while tensor memory counting is off in the kernel: polling never turns it on. */
  memory: { allocated_bytes: number; peak_bytes: number; by_category: Record<string, number> | null } | null;
  dispatch: Array<{ op: string; variant: string; count: number }>;
  kernels: Record<string, boolean>;
}

/**
 * Python run silently in the kernel. It does not import torsh itself (that would load torsh into
 * every kernel the panel sees, and define names in the user's namespace): it reports
 * "not imported" until the notebook imports torsh.
 */
export const STATS_CODE =
  "print('TORSH_STATS ' + __import__('json').dumps(" +
  "{'error': 'torsh is not imported in this kernel'} if 'torsh' not in __import__('sys').modules else " +
  "(lambda v: v.kernel_stats() if hasattr(v, 'kernel_stats') else " +
  "{'error': 'this torsh has no torsh.viz.kernel_stats()'})(__import__('importlib').import_module('torsh.viz'))))";

/** Python run (silently) by the panel's "start memory counting" button; counting then stays on. */
export const START_MEMORY_CODE = "__import__('importlib').import_module('torsh.viz.stats').start_memory_counting()";

export type StatsResult = { stats: KernelStats } | { error: string };

/** The comm target of the kernel's live feed (torsh/viz/_publisher.py) and what registers it (run silently). */
export const LIVE_TARGET = 'torsh_stats';
export const LIVE_CODE = "__import__('importlib').import_module('torsh.viz._publisher').register_target()";

/** The stats (or the reason there are none) from the kernel's stdout. */
export function parseStats(stdout: string): StatsResult {
  const line = stdout.split('\n').find(l => l.startsWith('TORSH_STATS '));
  if (!line) {
    return { error: 'no answer from the kernel' };
  }
  let value: any;
  try {
    value = JSON.parse(line.slice('TORSH_STATS '.length));
  } catch {
    return { error: 'unreadable answer from the kernel' };
  }
  return checkStats(value);
}

/** A kernel_stats() value as decoded JSON (a poll's answer, or a live comm message's data). */
export function checkStats(value: any): StatsResult {
  if (value && typeof value.error === 'string') {
    return { error: value.error };
  }
  if (!value || value.version !== 1 || typeof value.memory !== 'object') { // (null is an object)
    return { error: `unsupported kernel_stats version ${String(value?.version)}` };
  }
  return { stats: value as KernelStats };
}
