// virtual.ts: a list that draws only the rows in view (tens of thousands of
// task runs, hundreds of thousands of log lines).
import { h } from './dom';

export interface VList { el: HTMLElement; setCount(n: number, stickBottom?: boolean): void; refresh(): void; scrollTo(i: number): void; }

export function virtualList(rowH: number, render: (i: number) => HTMLElement, cls = ''): VList {
  const inner = h('div', { class: 'vinner' });
  const el = h('div', { class: `vlist ${cls}`, tabindex: 0 }, inner);
  let count = 0, raf = 0;
  const draw = () => {
    raf = 0;
    const top = el.scrollTop, hgt = el.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / rowH) - 10), last = Math.min(count, Math.ceil((top + hgt) / rowH) + 10);
    inner.style.height = `${count * rowH}px`;
    const frag = document.createDocumentFragment();
    for (let i = first; i < last; i++) { const r = render(i); r.style.top = `${i * rowH}px`; r.style.height = `${rowH}px`; r.classList.add('vrow'); frag.appendChild(r); }
    inner.replaceChildren(frag);
  };
  const schedule = () => { if (!raf) raf = requestAnimationFrame(draw); };
  el.addEventListener('scroll', schedule, { passive: true });
  new ResizeObserver(schedule).observe(el);
  return {
    el,
    setCount(n, stick) {
      const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - rowH * 2;
      count = n;
      inner.style.height = `${count * rowH}px`;
      if (stick && atBottom) el.scrollTop = el.scrollHeight;
      schedule();
    },
    refresh: schedule,
    scrollTo(i) { el.scrollTop = i * rowH; schedule(); },
  };
}
