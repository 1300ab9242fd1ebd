// Sizes and durations as the command line writes them: 64k, 1m, 500ms, 3s, 5m.
import { configError } from './core/errors.ts';

/** Bytes: a number with an optional k or m suffix (powers of 1024). */
export function parseBytes(name: string, text: string): number {
  const m = /^(\d+)([kKmM]?)$/.exec(text);
  if (!m) throw configError(`--${name} must be a number of bytes like 65536, 64k or 1m, got "${text}"`);
  return Number(m[1]) * (m[2] ? (m[2].toLowerCase() === 'k' ? 1024 : 1024 * 1024) : 1);
}

/** Milliseconds: a number with ms, s or m (no suffix: ms). */
export function parseDuration(name: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text);
  if (!m) throw configError(`--${name} must be a duration like 500ms, 30s or 5m, got "${text}"`);
  return Math.round(Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1));
}

/** A positive integer. */
export function parseCount(name: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw configError(`--${name} must be a whole number of at least 1, got "${text}"`);
  return Number(text);
}
