// graph.ts: the topology. Kestra's FlowGraph (nodes, edges, clusters) from
// GET /flows/{ns}/{id}/graph, or built here from the flow's tasks when the
// server has no such route; laid out by dagre, drawn in SVG (drag to pan,
// wheel to zoom).
import dagre from '@dagrejs/dagre';
import { h, s } from './dom';

export interface GNode { uid: string; type: string; task?: any; trigger?: any; relationType?: string; }
export interface GEdge { source: string; target: string; relation?: { relationType?: string; value?: string }; }
export interface GCluster { cluster: { uid: string; type?: string; taskNode?: any }; nodes: string[]; parents?: string[]; start?: string; end?: string; }
export interface FlowGraph { nodes: GNode[]; edges: GEdge[]; clusters: GCluster[]; }

const FLOWABLE_KEYS = ['tasks', 'then', 'else', 'errors', 'finally', 'default', 'cases', 'branches'];

// the FlowGraph of a flow's JSON, as Kestra draws it (sequential tasks,
// flowables as clusters, Parallel branches, Dag dependsOn, errors and finally)
export function graphOf(flow: any): FlowGraph {
  const nodes: GNode[] = [], edges: GEdge[] = [], clusters: GCluster[] = [];
  let n = 0;
  const node = (x: Partial<GNode> & { type: string }) => { const g = { uid: x.uid || `n${n++}`, ...x } as GNode; nodes.push(g); return g.uid; };
  const edge = (a: string, b: string, rel?: string) => edges.push({ source: a, target: b, relation: { relationType: rel } });
  // lays out a list of tasks; returns [first uids, last uids]
  function seq(tasks: any[], prefix: string, parents: string[], rel = 'SEQUENTIAL', parallel = false): [string[], string[]] {
    let heads: string[] = [], tails: string[] = [];
    for (const t of tasks || []) {
      const [f, l] = task(t, prefix, parents);
      if (parallel) { heads.push(...f); tails.push(...l); continue; }
      if (!heads.length) heads = f; else for (const a of tails) for (const b of f) edge(a, b, rel);
      tails = l;
    }
    return [heads, tails];
  }
  function task(t: any, prefix: string, parents: string[]): [string[], string[]] {
    const uid = `${prefix}${t.id}`;
    const kids = FLOWABLE_KEYS.filter(k => t[k] && (Array.isArray(t[k]) || typeof t[k] === 'object'));
    if (!kids.length) { node({ uid, type: 'io.kestra.core.models.hierarchies.GraphTask', task: t }); return [[uid], [uid]]; }
    const root = node({ uid: `root.${uid}`, type: 'io.kestra.core.models.hierarchies.GraphClusterRoot' });
    const end = node({ uid: `end.${uid}`, type: 'io.kestra.core.models.hierarchies.GraphClusterEnd' });
    const head = node({ uid, type: 'io.kestra.core.models.hierarchies.GraphTask', task: t });
    edge(root, head);
    const cl: GCluster = { cluster: { uid: `cluster_${uid}`, type: t.type, taskNode: { uid, task: t } }, nodes: [root, end, head], parents, start: root, end };
    clusters.push(cl);
    const inner = [...parents, cl.cluster.uid];
    const before = nodes.length;
    const par = /\.Parallel$/.test(t.type) || /\.ForEach$/.test(t.type) && t.concurrencyLimit !== 1;
    const isDag = /\.Dag$/.test(t.type);
    for (const k of kids) {
      if (k === 'cases' && typeof t.cases === 'object') {
        for (const c of Object.keys(t.cases)) {
          const [f, l] = seq(t.cases[c], `${uid}.${c}.`, inner);
          f.forEach(b => edges.push({ source: head, target: b, relation: { relationType: 'CHOICE', value: c } }));
          l.forEach(a => edge(a, end));
        }
        continue;
      }
      if (isDag && k === 'tasks') {
        const ids = new Map<string, [string[], string[]]>();
        for (const d of t.tasks) ids.set(d.task?.id, task(d.task || {}, `${uid}.`, inner));
        for (const d of t.tasks) {
          const me = ids.get(d.task?.id)!;
          const deps = (d.dependsOn || []).filter((x: string) => ids.has(x));
          if (!deps.length) me[0].forEach(b => edge(head, b, 'PARALLEL'));
          for (const x of deps) for (const a of ids.get(x)![1]) for (const b of me[0]) edge(a, b, 'SEQUENTIAL');
        }
        const used = new Set(t.tasks.flatMap((d: any) => d.dependsOn || []));
        for (const d of t.tasks) if (!used.has(d.task?.id)) ids.get(d.task?.id)![1].forEach(a => edge(a, end));
        continue;
      }
      const list = Array.isArray(t[k]) ? t[k] : [t[k]];
      const rel = k === 'errors' ? 'ERROR' : k === 'finally' ? 'FINALLY' : k === 'else' || k === 'then' ? 'CHOICE' : par ? 'PARALLEL' : 'SEQUENTIAL';
      const [f, l] = seq(list, `${uid}.`, inner, 'SEQUENTIAL', par && k === 'tasks');
      f.forEach(b => edges.push({ source: head, target: b, relation: { relationType: rel, value: k === 'then' || k === 'else' ? k : undefined } }));
      l.forEach(a => edge(a, end));
    }
    for (let i = before; i < nodes.length; i++) if (!cl.nodes.includes(nodes[i].uid)) cl.nodes.push(nodes[i].uid);
    return [[root], [end]];
  }
  const start = node({ uid: 'root.root', type: 'io.kestra.core.models.hierarchies.GraphClusterRoot' });
  const stop = node({ uid: 'root.end', type: 'io.kestra.core.models.hierarchies.GraphClusterEnd' });
  const [f, l] = seq(flow.tasks || [], '', []);
  f.forEach(b => edge(start, b)); l.forEach(a => edge(a, stop));
  if ((flow.errors || []).length) { const [ef, el] = seq(flow.errors, 'errors.', []); ef.forEach(b => edge(start, b, 'ERROR')); el.forEach(a => edge(a, stop)); }
  if ((flow.finally || []).length) { const [ff, fl] = seq(flow.finally, 'finally.', []); l.forEach(a => ff.forEach(b => edge(a, b, 'FINALLY'))); fl.forEach(a => edge(a, stop)); }
  for (const t of flow.triggers || []) { const u = node({ uid: `Triggers.${t.id}`, type: 'io.kestra.core.models.hierarchies.GraphTrigger', trigger: t }); edge(u, start); }
  return { nodes, edges, clusters };
}

const NW = 170, NH = 46;
export interface Drawn { svg: SVGSVGElement; ms: number; nodes: number; }
const SMALL = /ClusterRoot|ClusterEnd|ClusterFinally|ClusterAfterExecution/;
interface Box { x: number; y: number; width: number; height: number; }
interface Layout { nodes: Map<string, Box>; clusters: Map<string, Box>; edges: { points: { x: number; y: number }[]; rel?: string; value?: string }[]; width: number; height: number; engine: string; }

// Past this many nodes dagre's crossing minimisation takes seconds (a 500-task flow:
// several seconds), so big graphs get a linear layered layout instead (layered()).
export const DAGRE_MAX_NODES = 150;

function dagreLayout(g: FlowGraph): Layout {
  const dg = new dagre.graphlib.Graph({ compound: true, multigraph: true });
  dg.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 36, marginx: 20, marginy: 20 });
  dg.setDefaultEdgeLabel(() => ({}));
  const byUid = new Map(g.nodes.map(n => [n.uid, n]));
  for (const n of g.nodes) {
    const small = SMALL.test(n.type);
    dg.setNode(n.uid, { width: small ? 12 : NW, height: small ? 12 : NH });
  }
  for (const c of g.clusters || []) dg.setNode(c.cluster.uid, { clusterLabel: c.cluster.taskNode?.task?.id || c.cluster.uid });
  for (const c of g.clusters || []) {
    for (const u of c.nodes) if (byUid.has(u) && !dg.parent(u)) dg.setParent(u, c.cluster.uid);
    const p = (c.parents || [])[(c.parents || []).length - 1];
    if (p) dg.setParent(c.cluster.uid, p);
  }
  // a node belongs to its innermost cluster
  for (const c of [...(g.clusters || [])].sort((a, b) => (b.parents || []).length - (a.parents || []).length))
    for (const u of c.nodes) if (byUid.has(u)) { const cur = dg.parent(u); if (!cur || (g.clusters.find(x => x.cluster.uid === cur)?.parents || []).length < (c.parents || []).length) dg.setParent(u, c.cluster.uid); }
  g.edges.forEach((e, i) => { if (byUid.has(e.source) && byUid.has(e.target)) dg.setEdge(e.source, e.target, { rel: e.relation?.relationType, value: e.relation?.value }, `e${i}`); });
  dagre.layout(dg);
  const nodes = new Map<string, Box>(), clusters = new Map<string, Box>();
  for (const n of g.nodes) { const b = dg.node(n.uid) as any; if (b) nodes.set(n.uid, b); }
  for (const c of g.clusters || []) { const b = dg.node(c.cluster.uid) as any; if (b && b.width !== undefined) clusters.set(c.cluster.uid, b); }
  const edges = dg.edges().map(id => { const e = dg.edge(id) as any; return { points: e.points, rel: e.rel, value: e.value }; });
  return { nodes, clusters, edges, width: (dg.graph().width || 100) + 40, height: (dg.graph().height || 100) + 40, engine: 'dagre' };
}

// A layered layout in linear time: ranks by longest path from the sources, one
// barycentre pass to order each rank, each rank centred; clusters are the boxes
// around their nodes. Straight edges. Good for the shapes flows have (sequences
// of parallel branches), not as tidy as dagre on tangled ones.
function layered(g: FlowGraph): Layout {
  const ids = g.nodes.map(n => n.uid);
  const index = new Map(ids.map((u, i) => [u, i]));
  const out: number[][] = ids.map(() => []), inn: number[][] = ids.map(() => []);
  for (const e of g.edges) { const a = index.get(e.source), b = index.get(e.target); if (a !== undefined && b !== undefined && a !== b) { out[a].push(b); inn[b].push(a); } }
  // longest-path ranks over a topological order (Kahn); what a cycle leaves gets rank 0
  const deg = inn.map(x => x.length), rank = new Array(ids.length).fill(0), order: number[] = [];
  for (let i = 0; i < ids.length; i++) if (!deg[i]) order.push(i);
  for (let k = 0; k < order.length; k++) for (const b of out[order[k]]) { rank[b] = Math.max(rank[b], rank[order[k]] + 1); if (--deg[b] === 0) order.push(b); }
  const ranks: number[][] = [];
  const seen = new Set(order);
  for (let i = 0; i < ids.length; i++) if (!seen.has(i)) order.push(i);
  for (const i of order) (ranks[rank[i]] ||= []).push(i);
  const pos = new Array(ids.length).fill(0);
  for (const r of ranks) {
    if (!r) continue;
    const key = (i: number) => (inn[i].length ? inn[i].reduce((a, p) => a + pos[p], 0) / inn[i].length : pos[i]);
    const k = r.map((i, j) => [key(i), j, i]);
    k.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    k.forEach(([, , i], j) => { pos[i] = j; r[j] = i; });
  }
  const slot = NH + 18, colW = NW + 46, tall = Math.max(1, ...ranks.map(r => (r ? r.length : 0)));
  const height = tall * slot + 40;
  const nodes = new Map<string, Box>();
  ranks.forEach((r, ri) => (r || []).forEach((i, j) => {
    const small = SMALL.test(g.nodes[i].type);
    nodes.set(ids[i], { x: 20 + ri * colW + NW / 2, y: height / 2 + (j - (r.length - 1) / 2) * slot, width: small ? 12 : NW, height: small ? 12 : NH });
  }));
  const clusters = new Map<string, Box>();
  for (const c of g.clusters || []) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const u of c.nodes) { const b = nodes.get(u); if (!b) continue; x0 = Math.min(x0, b.x - b.width / 2); x1 = Math.max(x1, b.x + b.width / 2); y0 = Math.min(y0, b.y - b.height / 2); y1 = Math.max(y1, b.y + b.height / 2); }
    if (x0 === Infinity) continue;
    const pad = 10;
    clusters.set(c.cluster.uid, { x: (x0 + x1) / 2, y: (y0 + y1) / 2 - 4, width: x1 - x0 + 2 * pad, height: y1 - y0 + 2 * pad + 8 });
  }
  const edges = g.edges.filter(e => nodes.has(e.source) && nodes.has(e.target)).map(e => {
    const a = nodes.get(e.source)!, b = nodes.get(e.target)!;
    return { points: [{ x: a.x + a.width / 2, y: a.y }, { x: b.x - b.width / 2, y: b.y }], rel: e.relation?.relationType, value: e.relation?.value };
  });
  return { nodes, clusters, edges, width: 40 + ranks.length * colW, height, engine: 'layered' };
}

// a cluster is named by its flowable's type (Parallel, If, ...); the triggers' one says so
function clusterLabel(c: GCluster): string {
  const t = c.cluster.taskNode?.task?.type;
  if (t) return String(t).split('.').pop() || '';
  if (/Triggers$/.test(c.cluster.uid)) return 'Triggers';
  return /GraphCluster$/.test(c.cluster.type || '') ? '' : String(c.cluster.type || '').split('.').pop() || '';
}

export function drawGraph(g: FlowGraph, stateOf?: (taskId: string) => string | undefined, onNode?: (n: GNode) => void): HTMLElement {
  const t0 = performance.now();
  const L = g.nodes.length > DAGRE_MAX_NODES ? layered(g) : dagreLayout(g);
  const W = L.width, H = L.height;
  const svg = s('svg', { class: 'graph', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': 'flow topology', 'data-layout': L.engine }) as SVGSVGElement;
  const defs = s('defs', null, s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrowhead' })));
  svg.append(defs);
  const root = s('g');
  svg.append(root);
  for (const c of g.clusters || []) {
    const b = L.clusters.get(c.cluster.uid);
    if (!b) continue;
    root.append(s('g', { class: 'cluster' },
      s('rect', { x: b.x - b.width / 2, y: b.y - b.height / 2, width: b.width, height: b.height, rx: 8 }),
      s('text', { x: b.x - b.width / 2 + 8, y: b.y - b.height / 2 + 13, class: 'cluster-label' }, clusterLabel(c))));
  }
  for (const e of L.edges) {
    const pts = e.points;
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
    root.append(s('path', { d, class: `edge rel-${(e.rel || 'sequential').toLowerCase()}`, 'marker-end': 'url(#arrow)' }));
    if (e.value) { const m = pts[Math.floor(pts.length / 2)]; root.append(s('text', { x: m.x, y: m.y - 4, class: 'edge-label' }, String(e.value))); }
  }
  for (const n of g.nodes) {
    const b = L.nodes.get(n.uid);
    if (!b) continue;
    if (SMALL.test(n.type)) { root.append(s('circle', { cx: b.x, cy: b.y, r: 5, class: 'dot' })); continue; }
    const item = n.task || n.trigger || (n as any).triggerDeclaration || {};
    const trig = /GraphTrigger/.test(n.type);
    const st = !trig && stateOf ? stateOf(item.id) : undefined;
    const type = String(item.type || '').split('.').pop() || '';
    const gEl = s('g', { class: `node${trig ? ' trigger' : ''}${st ? ' st-' + st.toLowerCase() : ''}`, transform: `translate(${b.x - NW / 2},${b.y - NH / 2})`, tabindex: 0, 'data-uid': n.uid, 'data-task': item.id || '' },
      s('rect', { width: NW, height: NH, rx: 6 }),
      s('text', { x: 10, y: 19, class: 'node-id' }, String(item.id || n.uid).slice(0, 23)),
      s('text', { x: 10, y: 35, class: 'node-type' }, (trig ? 'trigger · ' : '') + type.slice(0, 26)),
      s('title', null, `${item.id}\n${item.type}${st ? '\n' + st : ''}`));
    if (onNode) gEl.addEventListener('click', () => onNode(n));
    root.append(gEl);
  }
  // zoom: the SVG's size (its viewBox stays), so the box scrolls natively; it opens
  // fitted to the width (not below 70 %: smaller text is not readable; scroll instead).
  // Drag to pan, Ctrl/Cmd-wheel or + and - to zoom, ⟲ fits again.
  const box = h('div', { class: 'graph-box' }, svg as any);
  let scale = 1;
  const apply = () => { svg.setAttribute('width', String(Math.round(W * scale))); svg.setAttribute('height', String(Math.round(H * scale))); };
  const zoom = (f: number) => {
    const cx = (box.scrollLeft + box.clientWidth / 2) / scale, cy = (box.scrollTop + box.clientHeight / 2) / scale;
    scale = Math.min(3, Math.max(0.1, scale * f)); apply();
    box.scrollLeft = cx * scale - box.clientWidth / 2; box.scrollTop = cy * scale - box.clientHeight / 2;
  };
  const fit = () => { const w = box.clientWidth - 2; if (w > 0) { scale = Math.min(1, Math.max(0.7, w / W)); apply(); } };
  new ResizeObserver((_, ro) => { if (box.clientWidth) { fit(); ro.disconnect(); } }).observe(box);
  box.addEventListener('wheel', (e: WheelEvent) => { if (!e.ctrlKey && !e.metaKey) return; e.preventDefault(); zoom(e.deltaY < 0 ? 1.1 : 1 / 1.1); }, { passive: false });
  let drag: { x: number; y: number; l: number; t: number } | null = null;
  svg.addEventListener('pointerdown', e => { if ((e.target as Element).closest('g.node')) return; drag = { x: e.clientX, y: e.clientY, l: box.scrollLeft, t: box.scrollTop }; svg.setPointerCapture(e.pointerId); });
  svg.addEventListener('pointermove', e => { if (drag) { box.scrollLeft = drag.l - (e.clientX - drag.x); box.scrollTop = drag.t - (e.clientY - drag.y); } });
  svg.addEventListener('pointerup', () => { drag = null; });
  const tools = h('div', { class: 'graph-tools' },
    h('button', { onclick: () => zoom(1.2), title: 'zoom in' }, '+'),
    h('button', { onclick: () => zoom(1 / 1.2), title: 'zoom out' }, '−'),
    h('button', { onclick: fit, title: 'fit to the width' }, '⟲'),
    h('span', { class: 'muted small' }, `${g.nodes.filter(n => !SMALL.test(n.type)).length} nodes · layout ${(performance.now() - t0).toFixed(0)} ms`));
  const wrap = h('div', { class: 'graph-wrap' }, tools, box);
  (wrap as any).layoutMs = performance.now() - t0;
  return wrap;
}
