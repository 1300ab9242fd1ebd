// What every doctor check produces: one row of the table (a setting, its current
// value, what this configuration needs, the command that would change it), a
// verdict, the reason in a sentence, and where the needed value comes from.
// A finding with `apply` is a sysctl that `--apply` may raise: only findings
// whose needed value follows from the configuration carry one.

import type { Source } from './sources.ts';

/**
 * ok       fine for this configuration
 * limit    limits this configuration (exit status 1): fix it or size down
 * advice   a choice worth knowing about that the configuration does not decide
 * info     context, nothing to do
 * unknown  could not be read (file missing, tool not installed)
 */
export type Status = 'ok' | 'limit' | 'advice' | 'info' | 'unknown';

export interface Finding {
  /** The group it belongs to: descriptors, accept queue, socket buffers, … */
  area: string;
  setting: string;
  current: string;
  /** What this configuration needs, in words a reader can check ("≥ 511 (--backlog)"). */
  needed: string;
  status: Status;
  /** Why it matters (or does not) for this configuration, one sentence. */
  why: string;
  /** The command that changes it, when there is one. */
  command?: string;
  source: Source;
  /** The sysctl write --apply would make: the full new value of the file. */
  apply?: { key: string; value: string };
}

/** A sysctl name as a path below /proc/sys: net.core.somaxconn -> net/core/somaxconn. */
export const sysctlPath = (key: string) => key.replaceAll('.', '/');

/** 65536 -> "64 KiB", 6291456 -> "6 MiB", 1000 -> "1000 B". */
export function bytes(n: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (n >= size) return `${Number((n / size).toFixed(1))} ${unit}`;
  }
  return `${n} B`;
}
