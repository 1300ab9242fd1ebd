// Grouped bar charts as inline SVG: no script, no fonts or files to fetch, so a
// report renders the same offline, in a browser or a mail client. One group per
// category, one bar per series, optional min–max whiskers, a linear or log axis,
// and an optional reference line (1.0 for ratios to a baseline). A missing value
// (NaN: a failed run) is drawn as a cross, never as a zero bar. A chart of one
// series has no legend (its title says what the bars are) and may colour each bar
// on its own, so that one bar per contender keeps the contender's colour.

export interface Series {
  name: string;
  values: number[];
  /** Whisker ends per value (min and max over rounds). */
  lows?: number[];
  highs?: number[];
  /** A colour per value, instead of the series' one. */
  colors?: string[];
}

export interface BarChart {
  title: string;
  categories: string[];
  series: Series[];
  /** Unit for the axis label, e.g. "frames/s". */
  unit: string;
  log?: boolean;
  reference?: number;
  width?: number;
  height?: number;
}

export const PALETTE = ['#2b6cb0', '#d69e2e', '#718096', '#38a169', '#c53030', '#805ad5', '#dd6b20', '#319795'];

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, c => `&#${c.charCodeAt(0)};`);
}

/** Compact numbers for axis ticks: 1.2M, 350k, 0.25. */
export function shortNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

/** Tick values for a linear axis from 0 to at least max: 1, 2 or 5 times a power of ten apart. */
export function linearTicks(max: number, target = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map(m => m * pow).find(s => s >= raw)!;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

export function barChart(c: BarChart): string {
  const width = c.width ?? 760;
  const height = c.height ?? 300;
  const left = 64, right = 12;
  // Legend entries (none for one series) flow left to right and wrap to another row at the right edge.
  const legend: { x: number; row: number }[] = [];
  let lx = left, row = 0;
  for (const s of c.series.length > 1 ? c.series : []) {
    const w = 24 + s.name.length * 6.5;
    if (lx + w > width - right && lx > left) { lx = left; row++; }
    legend.push({ x: lx, row });
    lx += w;
  }
  const top = legend.length ? 44 + row * 15 : 30;
  const plotW = width - left - right;
  const groupW = plotW / Math.max(1, c.categories.length);
  const slant = c.categories.some(cat => cat.length * 6 >= groupW); // labels too long to sit level
  const bottom = slant ? 84 : 30;
  const plotH = height - top - bottom;
  const all = c.series.flatMap(s => [...s.values, ...(s.highs ?? [])]).filter(v => Number.isFinite(v) && (!c.log || v > 0));
  const hi = Math.max(...all, c.reference ?? 0, c.log ? 1e-9 : 0);
  let y: (v: number) => number;
  let ticks: number[];
  if (c.log) {
    const lo = Math.min(...all, c.reference ?? Infinity);
    const d0 = Math.floor(Math.log10(lo > 0 ? lo : 1));
    const d1 = Math.max(Math.ceil(Math.log10(hi)), d0 + 1);
    ticks = Array.from({ length: d1 - d0 + 1 }, (_, i) => 10 ** (d0 + i));
    y = v => top + plotH - ((Math.log10(v) - d0) / (d1 - d0)) * plotH;
  } else {
    ticks = linearTicks(hi);
    const top1 = ticks.at(-1)!;
    y = v => top + plotH - (v / top1) * plotH;
  }
  const base = c.log ? top + plotH : y(0);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeXml(c.title)}" data-categories="${c.categories.length}" font-family="system-ui, sans-serif" font-size="11">`);
  out.push(`<text x="${left}" y="16" font-size="13" font-weight="600">${escapeXml(c.title)}</text>`);
  legend.forEach(({ x, row: r }, i) => {
    const s = c.series[i]!;
    const ly = 24 + r * 15;
    out.push(`<rect x="${x}" y="${ly}" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/><text x="${x + 14}" y="${ly + 9}">${escapeXml(s.name)}</text>`);
  });
  for (const t of ticks) {
    const ty = y(t);
    out.push(`<line x1="${left}" x2="${width - right}" y1="${ty.toFixed(1)}" y2="${ty.toFixed(1)}" stroke="#e2e8f0"/>`);
    out.push(`<text x="${left - 6}" y="${(ty + 4).toFixed(1)}" text-anchor="end" fill="#4a5568">${shortNumber(t)}</text>`);
  }
  out.push(`<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#4a5568">${escapeXml(c.unit)}${c.log ? ' (log)' : ''}</text>`);
  const barW = Math.max(2, Math.min(28, (groupW * 0.8) / Math.max(1, c.series.length)));
  c.categories.forEach((cat, g) => {
    const gx = left + g * groupW + (groupW - barW * c.series.length) / 2;
    c.series.forEach((s, i) => {
      const v = s.values[g]!;
      const x = gx + i * barW;
      const color = s.colors?.[g] ?? PALETTE[i % PALETTE.length];
      if (!Number.isFinite(v) || (c.log && v <= 0)) {
        const cy = base - 8;
        out.push(`<path d="M${x + 2} ${cy - 4}l${barW - 4} 8m0 -8l${-(barW - 4)} 8" stroke="${color}" stroke-width="2"><title>${escapeXml(`${s.name}, ${cat}: failed or not measured`)}</title></path>`);
        return;
      }
      const vy = y(v);
      out.push(`<rect x="${x.toFixed(1)}" y="${vy.toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${Math.max(0, base - vy).toFixed(1)}" fill="${color}"><title>${escapeXml(`${s.name}, ${cat}: ${shortNumber(v)} ${c.unit}`)}</title></rect>`);
      const lo = s.lows?.[g], hi2 = s.highs?.[g];
      if (lo !== undefined && hi2 !== undefined && Number.isFinite(lo) && Number.isFinite(hi2) && (!c.log || lo > 0)) {
        const cx = (x + (barW - 1) / 2).toFixed(1);
        out.push(`<path d="M${cx} ${y(lo).toFixed(1)}V${y(hi2).toFixed(1)}" stroke="#1a202c" stroke-width="1"/>`);
      }
    });
    const label = escapeXml(cat);
    const lx2 = (left + g * groupW + groupW / 2).toFixed(1);
    const ly = top + plotH + 14;
    out.push(!slant
      ? `<text x="${lx2}" y="${ly}" text-anchor="middle" fill="#2d3748">${label}</text>`
      : `<text x="${lx2}" y="${ly}" text-anchor="end" transform="rotate(-30 ${lx2} ${ly})" fill="#2d3748">${label}</text>`);
  });
  if (c.reference !== undefined) {
    const ry = y(c.reference).toFixed(1);
    out.push(`<line x1="${left}" x2="${width - right}" y1="${ry}" y2="${ry}" stroke="#c53030" stroke-dasharray="4 3"/>`);
  }
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#a0aec0"/>`);
  out.push('</svg>');
  return out.join('\n');
}
