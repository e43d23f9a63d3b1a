import { h, clear, banner, stateMark, fmtDuration } from '../dom';
import * as api from '../api';
import { title, Ctx } from '../main';
import { setQuery } from './common';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const PERIODS: Record<string, [string, number, string]> = {
  PT1H: ['Last hour', 3600e3, 'PT5M'], P1D: ['Last day', 86400e3, 'PT1H'], P7D: ['Last week', 7 * 86400e3, 'PT6H'], P30D: ['Last 30 days', 30 * 86400e3, 'P1D'],
};
const COLORS: Record<string, string> = { SUCCESS: '#2e9e5b', FAILED: '#d64545', WARNING: '#d99a1c', KILLED: '#8a8a8a', RUNNING: '#2f6fdf', CREATED: '#9aa9c8', PAUSED: '#8e5cd9', CANCELLED: '#b0b0b0', QUEUED: '#5bb8d6', RESTARTED: '#c97b2e', RETRIED: '#c9a22e' };

// The dashboard: what ran over a period, computed by the store
// (GET /api/v1/executions/statistics), drawn with uPlot.
export async function dashboardPage(c: Ctx) {
  const q = c.query;
  const period = PERIODS[q.get('period') || ''] ? q.get('period')! : (q.get('start') ? 'custom' : 'P1D');
  title(`Dashboard · ${period === 'custom' ? 'custom range' : PERIODS[period][0].toLowerCase()}`);
  const ns = h('input', { type: 'search', placeholder: 'namespace', value: q.get('namespace') || '', class: 'narrow', 'aria-label': 'namespace' }) as HTMLInputElement;
  const sel = h('select', { 'aria-label': 'period' }, Object.keys(PERIODS).map(k => h('option', { value: k, selected: k === period }, PERIODS[k][0])), h('option', { value: 'custom', selected: period === 'custom' }, 'Custom range')) as HTMLSelectElement;
  const start = h('input', { type: 'datetime-local', 'aria-label': 'from', value: q.get('start')?.slice(0, 16) || '' }) as HTMLInputElement;
  const end = h('input', { type: 'datetime-local', 'aria-label': 'to', value: q.get('end')?.slice(0, 16) || '' }) as HTMLInputElement;
  const custom = h('span', { class: period === 'custom' ? '' : 'hidden' }, start, end, h('button', { onclick: () => load() }, 'Apply'));
  const body = h('div', { class: 'dash' });
  c.root.append(h('div', { class: 'page-head' }, h('h1', null, 'Dashboard')), h('div', { class: 'filters' }, sel, custom, ns), body);
  const plots: uPlot[] = [];
  async function load() {
    plots.splice(0).forEach(p => p.destroy());
    const p = sel.value;
    custom.className = p === 'custom' ? '' : 'hidden';
    let from: Date, to: Date, interval: string;
    if (p === 'custom') {
      if (!start.value || !end.value) { clear(body, banner('choose the start and the end of the range', 'info')); return; }
      from = new Date(start.value); to = new Date(end.value);
      const span = +to - +from;
      interval = span <= 2 * 3600e3 ? 'PT5M' : span <= 2 * 86400e3 ? 'PT1H' : span <= 14 * 86400e3 ? 'PT6H' : 'P1D';
    } else { to = new Date(); from = new Date(+to - PERIODS[p][1]); interval = PERIODS[p][2]; }
    setQuery({ period: p === 'custom' ? undefined : p, start: p === 'custom' ? from.toISOString() : undefined, end: p === 'custom' ? to.toISOString() : undefined, namespace: ns.value || undefined });
    title(`Dashboard · ${p === 'custom' ? 'custom range' : PERIODS[p][0].toLowerCase()}`);
    let d: any;
    try { d = await api.get(`/executions/statistics${api.qs({ startDate: from.toISOString(), endDate: to.toISOString(), interval, namespace: ns.value })}`); }
    catch (e: any) { clear(body, banner(`statistics: ${e.message}`)); return; }
    draw(d, from, to);
  }
  function card(t: string, ...kids: any[]) { return h('div', { class: 'card' }, h('h3', null, t), ...kids); }
  // GET /executions/statistics: executionsPerState [{date, counts: {STATE: n}}] (every
  // interval), durations [{namespace, flowId, count, p50, p95}] in seconds, topFailing
  // [{namespace, flowId, failed, total}], taskRunsPerType [{type, count, failed}]
  function draw(d: any, from: Date, to: Date) {
    clear(body);
    // executions per state over time
    const series: { date: string; counts: Record<string, number> }[] = d.executionsPerState;
    const states = [...new Set(series.flatMap(b => Object.keys(b.counts)))].sort();
    const totals: Record<string, number> = {};
    for (const b of series) for (const s of states) totals[s] = (totals[s] || 0) + (b.counts[s] || 0);
    body.append(h('div', { class: 'stats' }, states.length ? states.map(s => h('div', { class: 'stat' }, stateMark(s), h('b', null, String(totals[s])), h('span', null, s.toLowerCase()))) : h('div', { class: 'stat' }, h('b', null, '0'), h('span', null, 'executions'))));
    const chart = h('div', { class: 'chart', id: 'chart-states' });
    body.append(card('Executions per state', chart));
    if (states.length) {
      const xs = series.map(b => +new Date(b.date) / 1000);
      const data: any[] = [xs, ...states.map(s => series.map(b => b.counts[s] || 0))];
      const w = Math.max(320, (body.clientWidth || 900) - 40);
      plots.push(new uPlot({
        width: w, height: 240, scales: { x: { time: true, min: +from / 1000, max: +to / 1000 } },
        series: [{}, ...states.map(s => ({ label: s, stroke: COLORS[s] || '#888', fill: (COLORS[s] || '#888') + '33', width: 2, paths: uPlot.paths.bars!({ size: [0.8, 60] }) }))],
        axes: [{ stroke: 'currentColor', grid: { stroke: '#8884' } }, { stroke: 'currentColor', grid: { stroke: '#8884' } }],
      }, data, chart));
    } else chart.append(h('p', { class: 'empty' }, 'No execution in this period.'));
    const table = (rows: any[], cols: [string, (r: any) => any][]) => rows.length ? h('table', { class: 'list' }, h('thead', null, h('tr', null, cols.map(c => h('th', null, c[0])))), h('tbody', null, rows.map(r => h('tr', null, cols.map(c => h('td', null, c[1](r))))))) : h('p', { class: 'empty' }, 'nothing in this period');
    const flowLink = (r: any) => h('a', { href: `/ui/flows/${api.enc(r.namespace)}/${api.enc(r.flowId)}`, 'data-link': '' }, `${r.namespace}.${r.flowId}`);
    const secs = (v: number | null) => (v == null ? '' : fmtDuration(v * 1000));
    body.append(h('div', { class: 'grid2' },
      card('Durations per flow (p50, p95)', table(d.durations, [['Flow', flowLink], ['Runs', r => String(r.count)], ['p50', r => secs(r.p50)], ['p95', r => secs(r.p95)]])),
      card('Flows that fail most', table(d.topFailing, [['Flow', flowLink], ['Failed', r => String(r.failed)], ['of', r => String(r.total)]])),
      card('Task runs per task type', table(d.taskRunsPerType, [['Type', r => h('span', { class: 'small' }, r.type)], ['Task runs', r => String(r.count)], ['Failed', r => String(r.failed)]]))));
  }
  sel.addEventListener('change', load);
  ns.addEventListener('change', load);
  await load();
  return () => plots.forEach(p => p.destroy());
}
