// The Prometheus text exposition format, version 0.0.4: metric families (a name,
// HELP, TYPE, and samples with labels) rendered as text. The invariants a
// scraper relies on live here: one HELP and one TYPE line per family, before its
// samples; label values and HELP text escaped (backslash, double quote in label
// values, newline); no two samples of a family with the same labels (the
// families are built that way: see server-metrics.ts); a newline after the last line.
// The same families, as plain objects, are what prom-client's registry takes from
// a metric's get() (registry.ts adapts them), so the two never disagree.

export type MetricType = 'counter' | 'gauge';

export interface Sample {
  labels?: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  /** Prometheus conventions: a prefix, base units (seconds, bytes), `_total` on counters. */
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

/** What Prometheus expects for this format (also prom-client's registry.contentType). */
export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const escapeHelp = (text: string) => text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (text: string) => text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** A sample's value as Prometheus writes it: integers plainly, NaN and infinities by name. */
function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function formatLabels(labels: Record<string, string> | undefined): string {
  if (!labels) return '';
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

/** The families as one exposition. */
export function renderText(families: readonly MetricFamily[]): string {
  let out = '';
  for (const f of families) {
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) out += `${f.name}${formatLabels(s.labels)} ${formatValue(s.value)}\n`;
  }
  return out;
}
