// Numbers as the command line writes them: sizes (64k, 1m, 2g), durations (500ms,
// 3s, 5m), counts and ports, and negative values given as separate arguments.
import { configError } from './core/errors.ts';

/** Bytes: a number with an optional k, m or g suffix (powers of 1024). */
export function parseBytes(name: string, text: string): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(text);
  if (!m) throw configError(`--${name} must be a number of bytes like 65536, 64k, 1m or 2g, got "${text}"`);
  return Number(m[1]) * 1024 ** ' kmg'.indexOf((m[2] || ' ').toLowerCase());
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds from a number with its unit: ms, s, m or h. A bare number is refused: 30 could mean 30 ms or 30 s. */
export function parseDuration(name: string, text: string): number {
  if (/^\d+(?:\.\d+)?$/.test(text)) throw configError(`--${name} needs a unit: write ${text}s for seconds or ${text}ms for milliseconds (also m, h)`);
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) throw configError(`--${name} must be a duration like 500ms, 30s, 5m or 1h, got "${text}"`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
}

/** A positive integer. */
export function parseCount(name: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw configError(`--${name} must be a whole number of at least 1, got "${text}"`);
  return Number(text);
}

/** A TCP port, digits only: "" or "0x10" is a mistake, not port 0 or 16. */
export function parsePort(name: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw configError(`--${name} must be a whole number from 0 to 65535 (0 picks a free port), got "${text}"`);
  return Number(text);
}

/**
 * `--port -1` as `--port=-1`. Node's parseArgs refuses a separate value that
 * starts with a dash as "ambiguous" (it might be a forgotten value followed by
 * an option; its allowNegative option is about `--no-<flag>`, not numbers). A
 * negative number cannot be an option, so joining it to the option before lets
 * the option's own check say which values it takes.
 */
export function joinNegativeValues(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (/^--[^=]+$/.test(arg) && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}
