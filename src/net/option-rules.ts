// What an option may be, checked once where options enter: the library's
// constructors (endpoint, server, worker server, connect) and the command line,
// with the same rules, so a limit is stated once. Only the way a message names an
// option differs: `drainTimeout` and milliseconds for the API, `--drain-timeout`
// and units (600h) for the command line (OptionNames).
// Invariants: every option name is known (an unknown one is ERR_BAD_CONFIG naming
// it, with the nearest known name when one is close: a typo never passes silently);
// every number is finite, whole where it counts things, and inside the range it
// can be honoured in. A duration is at most MAX_DURATION: Node's timers hold at
// most 2^31-1 ms and fire a longer one at once, so a longer duration would do the
// opposite of what was asked.

import { configError } from '../core/errors.ts';

/** The longest duration any option takes: 24 days, under the 2^31-1 ms (~24.8 days) a Node timer can hold. */
export const MAX_DURATION = 576 * 3_600_000;

export type Rule =
  /** A duration in ms from min to max; with off, 0 too (it turns the deadline off). */
  | { kind: 'ms'; min: number; max: number; off?: boolean }
  /** A whole number (bytes, a count) from min to max; with off, 0 too. */
  | { kind: 'int'; min: number; max: number; off?: boolean; unit?: string }
  /** A number (a ratio, a factor) from min to max, fractions allowed. */
  | { kind: 'real'; min: number; max: number }
  /** Not a number: a function, a choice, an object, checked where it is used. */
  | { kind: 'other' };

export const OTHER: Rule = { kind: 'other' };
/** A duration from min (default 1 ms) to MAX_DURATION, where 0 turns it off. */
export const deadline = (min = 1): Rule => ({ kind: 'ms', min, max: MAX_DURATION, off: true });
export const duration = (min: number, max = MAX_DURATION): Rule => ({ kind: 'ms', min, max });
export const whole = (min: number, max: number, unit = ''): Rule => ({ kind: 'int', min, max, unit });

/** How a message names an option and shows a duration. */
export interface OptionNames {
  name(option: string): string;
  ms(value: number): string;
}

/** The library's own names: the option as written, durations in ms. */
export const API_NAMES: OptionNames = {
  name: option => option,
  ms: value => `${value} ms`,
};

/** A duration in the largest unit that shows it whole: 600h, 90s, 1500ms. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms === 0 ? '0s' : `${ms}ms`;
}

/** Every key given (its value not undefined) is one of `known`; else ERR_BAD_CONFIG naming it, and the nearest known name. */
export function checkKnown(options: object, known: readonly string[], prefix = '', names: OptionNames = API_NAMES): void {
  if (typeof options !== 'object' || options === null) throw configError(`${prefix ? names.name(prefix.slice(0, -1)) : 'options'} must be an object, got ${options === null ? 'null' : typeof options}`);
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || known.includes(key)) continue;
    const near = nearest(key, known);
    throw configError(`unknown option ${names.name(prefix + key)}${near ? `: did you mean ${names.name(prefix + near)}?` : ''}`);
  }
}

/** The value when it obeys the rule (undefined passes: the default applies); else ERR_BAD_CONFIG naming the option and the range. */
export function checkNumber(option: string, value: unknown, rule: Rule, names: OptionNames = API_NAMES): void {
  if (value === undefined || rule.kind === 'other') return;
  const off = 'off' in rule && rule.off === true;
  if (typeof value === 'number' && (off && value === 0 || value >= rule.min && value <= rule.max) && (rule.kind === 'real' ? Number.isFinite(value) : Number.isInteger(value))) return;
  throw configError(`${names.name(option)} must be ${range(rule, names)}, got ${typeof value === 'number' && rule.kind === 'ms' && Number.isFinite(value) ? names.ms(value) : String(value)}`);
}

/**
 * TLS options (a server's, a client's or a relay's upstream's): an object, whose
 * handshakeTimeout is a deadline like any other. The rest goes to Node's tls as it is.
 */
export function checkTls(option: string, tls: unknown, names: OptionNames = API_NAMES): void {
  if (tls === undefined) return;
  if (typeof tls !== 'object' || tls === null) throw configError(`${names.name(option)} must be an object of TLS options, got ${String(tls)}`);
  checkNumber(`${option}.handshakeTimeout`, (tls as { handshakeTimeout?: unknown }).handshakeTimeout, deadline(), names);
}

/** Check every option of `options` against its rule: names known, numbers in range. A prefix ('upstream.') names nested options. */
export function checkOptions(options: object, rules: Readonly<Record<string, Rule>>, prefix = '', names: OptionNames = API_NAMES): void {
  checkKnown(options, Object.keys(rules), prefix, names);
  for (const [key, value] of Object.entries(options)) {
    const rule = rules[key];
    if (rule) checkNumber(prefix + key, value, rule, names);
  }
}

/** The accepted values, as a message says them. */
function range(rule: Exclude<Rule, { kind: 'other' }>, names: OptionNames): string {
  const off = 'off' in rule && rule.off ? ` (0${rule.kind === 'ms' && names !== API_NAMES ? 's' : ''}: off)` : '';
  if (rule.kind === 'ms') {
    const from = names === API_NAMES ? `a number of ms from ${rule.min} to ${rule.max} (${formatDuration(rule.max)})` : `a duration from ${formatDuration(rule.min)} to ${formatDuration(rule.max)}`;
    return `${from}${off}`;
  }
  if (rule.kind === 'real') return `a number from ${rule.min} to ${rule.max}`;
  const unit = rule.unit ? ` ${rule.unit}` : '';
  return `a whole number from ${rule.min} to ${rule.max === Infinity ? 'Infinity' : rule.max}${unit}${off}`;
}

/** The known name nearest to `given` (the same but for case, dashes and underscores, or at most a third of its letters changed), if any. */
export function nearest(given: string, known: readonly string[]): string | undefined {
  const plain = (name: string) => name.toLowerCase().replace(/[-_]/g, '');
  const g = plain(given);
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(g.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(g, plain(k));
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}
