// editor.ts: the flow editor: CodeMirror 6 with YAML, lint markers from
// POST /api/v1/flows/validate, completion of task types and their properties
// from the plugin schemas, Ctrl/Cmd-S to save.
import { EditorState, Extension } from '@codemirror/state';
import { EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection } from '@codemirror/view';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { syntaxHighlighting, HighlightStyle, indentOnInput, bracketMatching, foldGutter } from '@codemirror/language';
import { yaml } from '@codemirror/lang-yaml';
import { linter, lintGutter, Diagnostic, forceLinting } from '@codemirror/lint';
import { autocompletion, CompletionContext, CompletionResult, completionKeymap } from '@codemirror/autocomplete';
import { searchKeymap, highlightSelectionMatches } from '@codemirror/search';
import { tags } from '@lezer/highlight';
import * as api from './api';

// colours from CSS variables (style.css), so light and dark themes both read well
const highlight = HighlightStyle.define([
  { tag: [tags.propertyName, tags.definition(tags.propertyName)], color: 'var(--hl-key)' },
  { tag: [tags.string, tags.special(tags.string), tags.content], color: 'var(--hl-str)' },
  { tag: [tags.number, tags.integer, tags.float], color: 'var(--hl-num)' },
  { tag: [tags.bool, tags.null, tags.atom, tags.keyword], color: 'var(--hl-atom)' },
  { tag: [tags.comment, tags.lineComment], color: 'var(--hl-comment)', fontStyle: 'italic' },
  { tag: [tags.meta, tags.labelName, tags.typeName, tags.processingInstruction], color: 'var(--hl-meta)' },
  { tag: tags.invalid, color: 'var(--err)' },
]);

export interface ValidateResult { diagnostics: Diagnostic[]; messages: string[]; }

// Validates src with the server; positions are 1-based lines and columns.
export async function validate(src: string, doc: EditorState['doc']): Promise<ValidateResult> {
  const out: Diagnostic[] = [], messages: string[] = [];
  const at = (line: number, col: number) => {
    const l = doc.line(Math.min(Math.max(1, line || 1), doc.lines));
    const from = Math.min(l.from + Math.max(0, (col || 1) - 1), l.to);
    // the marker covers the word at that position (or the rest of the line)
    const m = /^[^\s:]+/.exec(doc.sliceString(from, l.to));
    return { from, to: m ? from + m[0].length : Math.max(from, l.to) };
  };
  const fromMessage = (msg: string) => {
    const m = /(?:^|\s)body:(\d+):(\d+):\s*(.*)$/s.exec(msg);
    return m ? { line: +m[1], col: +m[2], msg: m[3] } : null;
  };
  let d: any;
  try {
    d = await api.yaml('POST', '/flows/validate', src);
  } catch (e: any) {
    const errs = e.body?.errors;
    if (Array.isArray(errs) && errs.length) {
      for (const x of errs) { const p = at(x.line, x.column); out.push({ ...p, severity: 'error', message: x.message }); messages.push(`${x.line}:${x.column}: ${x.message}`); }
    } else {
      const p = fromMessage(e.message || '');
      if (p) { out.push({ ...at(p.line, p.col), severity: 'error', message: p.msg }); messages.push(`${p.line}:${p.col}: ${p.msg}`); }
      else { out.push({ from: 0, to: Math.min(doc.length, 1), severity: 'error', message: e.message }); messages.push(e.message); }
    }
    return { diagnostics: out, messages };
  }
  for (const entry of Array.isArray(d) ? d : [d]) {
    for (const x of entry?.errors || []) {
      out.push({ ...at(x.line, x.column), severity: 'error', message: x.message });
      messages.push(`${x.line}:${x.column}: ${x.message}`);
    }
    if (!(entry?.errors || []).length && entry?.constraints) {
      for (const c of String(entry.constraints).split('\n')) {
        const p = fromMessage(c);
        if (p) { out.push({ ...at(p.line, p.col), severity: 'error', message: p.msg }); messages.push(`${p.line}:${p.col}: ${p.msg}`); }
      }
    }
    for (const w of entry?.warnings || []) {
      const msg = typeof w === 'string' ? w : w.message;
      const p = fromMessage(msg || '');
      out.push({ ...(p ? at(p.line, p.col) : at(w.line || 1, w.column || 1)), severity: 'warning', message: p ? p.msg : msg });
    }
  }
  return { diagnostics: out, messages };
}

// ---- completion ---------------------------------------------------------------------
let typesP: Promise<string[]> | null = null;
const schemas = new Map<string, Promise<any>>();
export function pluginTypes(): Promise<string[]> {
  if (!typesP) typesP = (async () => {
    try {
      const d = await api.get('/plugins');
      const out = new Set<string>();
      const walk = (x: any) => {
        if (!x) return;
        if (typeof x === 'string') { if (/^[a-z][\w.]*\.[A-Z]\w*$/.test(x)) out.add(x); return; }
        if (Array.isArray(x)) { x.forEach(walk); return; }
        if (typeof x === 'object') {
          if (typeof x.cls === 'string') out.add(x.cls);
          if (typeof x.type === 'string' && x.type.includes('.')) out.add(x.type);
          for (const k of ['tasks', 'triggers', 'conditions', 'taskRunners', 'results', 'types', 'plugins']) walk(x[k]);
        }
      };
      walk(d);
      return [...out].sort();
    } catch { typesP = null; return []; }
  })();
  return typesP;
}
export function pluginSchema(type: string): Promise<any> {
  if (!schemas.has(type)) schemas.set(type, api.get(`/plugins/schemas/${api.enc(type)}`).catch(() => { schemas.delete(type); return null; }));
  return schemas.get(type)!;
}

function indentOf(s: string) { const m = /^(\s*)(- )?/.exec(s)!; return m[1].length + (m[2] ? 2 : 0); }

// the `type:` of the mapping the cursor's line belongs to
function siblingType(doc: EditorState['doc'], lineNo: number, ind: number): string | null {
  for (let dir of [-1, 1]) {
    for (let n = lineNo + dir; n >= 1 && n <= doc.lines; n += dir) {
      const t = doc.line(n).text;
      if (!t.trim() || t.trim().startsWith('#')) continue;
      const i = indentOf(t);
      const raw = /^\s*/.exec(t)![0].length;
      if (i < ind && !(dir === -1 && t.trimStart().startsWith('- ') && raw + 2 === ind)) break;
      if (i === ind || (t.trimStart().startsWith('- ') && raw + 2 === ind)) {
        const m = /^\s*(?:- )?type:\s*["']?([\w.]+)/.exec(t);
        if (m) return m[1];
        if (dir === -1 && t.trimStart().startsWith('- ') && raw + 2 === ind) break; // the item's first line
      } else if (i < ind) break;
    }
  }
  return null;
}

async function complete(ctx: CompletionContext): Promise<CompletionResult | null> {
  const line = ctx.state.doc.lineAt(ctx.pos);
  const before = line.text.slice(0, ctx.pos - line.from);
  const tm = /^(\s*(?:- )?type:\s*["']?)([\w.]*)$/.exec(before);
  if (tm) {
    const types = await pluginTypes();
    if (!types.length) return null;
    return { from: ctx.pos - tm[2].length, options: types.map(t => ({ label: t, type: 'class', detail: t.slice(0, t.lastIndexOf('.')) })), validFor: /^[\w.]*$/ };
  }
  const km = /^(\s*)(- )?([\w-]*)$/.exec(before);
  if (km && (km[3].length || ctx.explicit)) {
    const ind = km[1].length + (km[2] ? 2 : 0);
    const type = siblingType(ctx.state.doc, line.number, ind);
    if (!type) {
      if (ind === 0) return { from: ctx.pos - km[3].length, options: ['id', 'namespace', 'description', 'labels', 'inputs', 'variables', 'tasks', 'errors', 'finally', 'triggers', 'outputs', 'concurrency', 'disabled', 'retry', 'pluginDefaults'].map(k => ({ label: k + ': ', displayLabel: k, type: 'property' })) };
      if (ind > 0 && km[2]) return { from: ctx.pos - km[3].length, options: [{ label: 'id: ', displayLabel: 'id', type: 'property' }, { label: 'type: ', displayLabel: 'type', type: 'property' }] };
      return null;
    }
    const sc = await pluginSchema(type);
    const props = sc?.properties?.properties || sc?.properties || sc?.schema?.properties || {};
    const req = new Set<string>(sc?.properties?.required || sc?.required || []);
    const opts = Object.keys(props).filter(k => k !== 'type').map(k => ({
      label: k + ': ', displayLabel: k, type: 'property', boost: req.has(k) ? 1 : 0,
      detail: props[k]?.type ? String(props[k].type) + (req.has(k) ? ' · required' : '') : (req.has(k) ? 'required' : undefined),
      info: props[k]?.title || props[k]?.description || undefined,
    }));
    for (const k of ['id', 'description', 'retry', 'timeout', 'disabled', 'allowFailure', 'runIf', 'logLevel']) if (!props[k]) opts.push({ label: k + ': ', displayLabel: k, type: 'property', boost: -1, detail: undefined, info: undefined });
    return { from: ctx.pos - km[3].length, options: opts, validFor: /^[\w-]*$/ };
  }
  return null;
}

export interface FlowEditor { view: EditorView; lintNow(): void; last(): ValidateResult | null; }

export function flowEditor(parent: HTMLElement, doc: string, opts: { onSave: (src: string) => void; onChange?: (src: string) => void; onLint?: (r: ValidateResult) => void; extra?: Extension[] }): FlowEditor {
  let last: ValidateResult | null = null;
  const lint = linter(async view => {
    const src = view.state.doc.toString();
    if (!src.trim()) { last = { diagnostics: [], messages: [] }; opts.onLint?.(last); return []; }
    const r = await validate(src, view.state.doc);
    if (view.state.doc.toString() !== src) return r.diagnostics.filter(d => d.to <= view.state.doc.length);
    last = r;
    opts.onLint?.(r);
    return r.diagnostics;
  }, { delay: 350 });
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        lineNumbers(), highlightActiveLineGutter(), foldGutter(), drawSelection(), history(), indentOnInput(),
        bracketMatching(), highlightActiveLine(), highlightSelectionMatches(),
        syntaxHighlighting(highlight), yaml(), lintGutter(), lint,
        autocompletion({ override: [complete], activateOnTyping: true }),
        EditorState.tabSize.of(2),
        keymap.of([
          { key: 'Mod-s', preventDefault: true, run: v => { opts.onSave(v.state.doc.toString()); return true; } },
          ...completionKeymap, ...searchKeymap, ...historyKeymap, indentWithTab, ...defaultKeymap,
        ]),
        EditorView.updateListener.of(u => { if (u.docChanged) opts.onChange?.(u.state.doc.toString()); }),
        ...(opts.extra || []),
      ],
    }),
  });
  return { view, lintNow: () => forceLinting(view), last: () => last };
}
