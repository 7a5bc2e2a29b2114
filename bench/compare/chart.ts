/**
 * The comparison as one self-contained SVG (no scripts, no external fonts): ops/s and p99 per workload as
 * grouped bars, one colour per system, each bar labelled with its ratio to redis-server; then bytes per key.
 */
import { type MemoryRow, type Row, SYSTEM_LABELS, type SystemId, modeName, sizeName } from './report';

const COLORS: Record<SystemId, string> = {
  redis: '#d62728',
  'redis-ap': '#ff9896',
  // The replicated pair (--systems …,redis-wait,dcache-3r2): a darker shade of the unreplicated system's colour.
  'redis-wait': '#8c1a1b',
  memcached: '#7f7f7f',
  'dcache-1': '#1f77b4',
  'dcache-3': '#2ca02c',
  'dcache-3r2': '#1a6b1a',
  // An A/B run's baseline twins (--baseline): the light shade of their counterpart's colour.
  'dcache-1-base': '#aec7e8',
  'dcache-3-base': '#98df8a',
};

const FONT = 'font-family="Helvetica, Arial, sans-serif"';

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A round axis maximum and tick step for data up to max. */
function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step };
}

function shortNumber(n: number): string {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return `${+n.toFixed(1)}`;
}

interface Group {
  label: string;
  bars: Array<{ system: SystemId; value: number; ratio: number | null }>;
}

function panel(
  x: number,
  y: number,
  w: number,
  h: number,
  title: string,
  unit: string,
  groups: Group[],
  betterLower: boolean,
  valueLabels = false,
): string {
  const out: string[] = [];
  const left = 56;
  const bottom = 34;
  const top = 26;
  const plotW = w - left - 10;
  const plotH = h - top - bottom;
  const max = Math.max(...groups.flatMap((g) => g.bars.map((b) => b.value)).filter(Number.isFinite), 0);
  const { top: axisTop, step } = niceScale(max * 1.25);
  const yOf = (v: number) => y + top + plotH - (v / axisTop) * plotH;
  out.push(`<text x="${x + w / 2}" y="${y + 16}" text-anchor="middle" font-size="14" font-weight="bold" ${FONT}>${esc(title)}</text>`);
  for (let v = 0; v <= axisTop + step / 2; v += step) {
    const yy = yOf(v);
    out.push(`<line x1="${x + left}" x2="${x + left + plotW}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    out.push(`<text x="${x + left - 6}" y="${yy + 4}" text-anchor="end" font-size="11" ${FONT}>${shortNumber(v)}</text>`);
  }
  out.push(
    `<text transform="translate(${x + 13},${y + top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="11" ${FONT}>${esc(unit)}${betterLower ? ' (lower is better)' : ' (higher is better)'}</text>`,
  );
  const groupW = plotW / Math.max(groups.length, 1);
  groups.forEach((g, gi) => {
    const gx = x + left + gi * groupW;
    const n = g.bars.length;
    const barW = Math.min(26, (groupW * 0.8) / Math.max(n, 1));
    const start = gx + (groupW - barW * n) / 2;
    g.bars.forEach((b, bi) => {
      if (!Number.isFinite(b.value)) return;
      const bx = start + bi * barW;
      const by = yOf(b.value);
      out.push(
        `<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(y + top + plotH - by).toFixed(1)}" fill="${COLORS[b.system]}"><title>${esc(`${SYSTEM_LABELS[b.system]}: ${shortNumber(b.value)} ${unit}`)}</title></rect>`,
      );
      const label = valueLabels
        ? b.value.toFixed(0)
        : b.system !== 'redis' && b.ratio !== null && Number.isFinite(b.ratio)
          ? `${b.ratio.toFixed(2)}×`
          : null;
      if (label !== null) {
        const cx = bx + (barW - 2) / 2 + 3;
        out.push(`<text transform="translate(${cx.toFixed(1)},${(by - 4).toFixed(1)}) rotate(-90)" font-size="10" ${FONT}>${label}</text>`);
      }
    });
    out.push(`<text x="${gx + groupW / 2}" y="${y + top + plotH + 16}" text-anchor="middle" font-size="11" ${FONT}>${esc(g.label)}</text>`);
  });
  out.push(`<line x1="${x + left}" x2="${x + left + plotW}" y1="${y + top + plotH}" y2="${y + top + plotH}" stroke="#333"/>`);
  return out.join('\n');
}

export function renderSvg(rows: Row[], memory: MemoryRow[], systems: SystemId[], subtitle: string): string {
  const modes = [...new Set(rows.map((r) => r.concurrency))].sort((a, b) => b - a);
  const sizes = [...new Set(rows.map((r) => r.valueBytes))].sort((a, b) => a - b);
  // One panel per (metric, mode) row and value size column, each with its own axis: 64 KiB figures are a
  // tenth of 100 B ones and would vanish on a shared axis.
  const panelW = 400;
  const panelH = 250;
  const width = Math.max(panelW * Math.max(sizes.length, 1), 760) + 20;
  // The legend wraps onto more lines when it is wider than the chart (an A/B run adds the baseline twins).
  const legend: Array<{ system: SystemId; x: number; y: number }> = [];
  let lx = 20;
  let ly = 58;
  for (const s of systems) {
    const itemW = 34 + SYSTEM_LABELS[s].length * 7.5;
    if (lx > 20 && lx + itemW - 18 > width - 10) {
      lx = 20;
      ly += 20;
    }
    legend.push({ system: s, x: lx, y: ly });
    lx += itemW;
  }
  const top = 84 + (ly - 58);
  const metricRows = modes.flatMap((conc) => [
    { conc, metric: 'ops' as const },
    { conc, metric: 'p99' as const },
  ]);
  const memH = memory.length > 0 ? 230 : 0;
  const height = top + panelH * metricRows.length + memH + 20;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="18" font-weight="bold" ${FONT}>distributed-cache vs redis-server and memcached (medians; bar labels: ratio to ioredis → redis-server)</text>`,
    `<text x="${width / 2}" y="44" text-anchor="middle" font-size="11" fill="#444" ${FONT}>${esc(subtitle)}</text>`,
  ];
  for (const { system: s, x, y } of legend) {
    parts.push(`<rect x="${x}" y="${y}" width="12" height="12" fill="${COLORS[s]}"/>`);
    parts.push(`<text x="${x + 16}" y="${y + 10}" font-size="12" ${FONT}>${esc(SYSTEM_LABELS[s])}</text>`);
  }
  metricRows.forEach(({ conc, metric }, ri) => {
    sizes.forEach((size, ci) => {
      const groups: Group[] = (['set', 'get'] as const).map((phase) => ({
        label: phase.toUpperCase(),
        bars: systems.flatMap((system) => {
          const r = rows.find((x) => x.system === system && x.valueBytes === size && x.concurrency === conc && x.phase === phase);
          if (r === undefined) return [];
          return [{ system, value: metric === 'ops' ? r.opsPerSec : r.p99, ratio: metric === 'ops' ? r.opsRatio : r.p99Ratio }];
        }),
      }));
      const title = `${metric === 'ops' ? 'ops/s' : 'p99 latency'}, ${sizeName(size)}, ${modeName(conc)}`;
      parts.push(
        panel(10 + ci * panelW, top + ri * panelH, panelW, panelH, title, metric === 'ops' ? 'ops/s' : 'µs', groups, metric === 'p99'),
      );
    });
  });
  if (memory.length > 0) {
    const groups: Group[] = [
      { label: 'RSS per key', bars: memory.map((m) => ({ system: m.system, value: m.rssPerKey, ratio: null })) },
      { label: "server's own accounting per key", bars: memory.map((m) => ({ system: m.system, value: m.accountingPerKey, ratio: null })) },
    ];
    const keys = memory[0]!.keys.toLocaleString('en-US');
    parts.push(
      panel(
        10,
        top + panelH * metricRows.length,
        Math.min(width - 20, 640),
        memH,
        `memory: bytes per key (${keys} keys, 16 B key + 100 B value)`,
        'bytes',
        groups,
        true,
        true,
      ),
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}
