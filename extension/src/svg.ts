// Tiny SVG helpers shared by the graph and trace views.

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svgEl<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  parent?: Element
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    el.setAttribute(k, String(v));
  }
  parent?.appendChild(el);
  return el;
}

export function htmlEl<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  parent?: Element,
  text?: string
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    el.setAttribute(k, v);
  }
  if (text !== undefined) {
    el.textContent = text;
  }
  parent?.appendChild(el);
  return el;
}

/** Wheel zooms around the cursor, drag pans: both by moving the SVG viewBox. */
export function zoomPan(svg: SVGSVGElement, width: number, height: number): void {
  let view = { x: 0, y: 0, w: width, h: height };
  const apply = () => svg.setAttribute('viewBox', `${view.x} ${view.y} ${view.w} ${view.h}`);
  apply();
  const toView = (clientX: number, clientY: number) => {
    const r = svg.getBoundingClientRect();
    return {
      x: view.x + ((clientX - r.left) / Math.max(r.width, 1)) * view.w,
      y: view.y + ((clientY - r.top) / Math.max(r.height, 1)) * view.h
    };
  };
  svg.addEventListener('wheel', ev => {
    ev.preventDefault();
    const p = toView(ev.clientX, ev.clientY);
    const k = Math.exp(ev.deltaY * 0.0015);
    view = { x: p.x - (p.x - view.x) * k, y: p.y - (p.y - view.y) * k, w: view.w * k, h: view.h * k };
    apply();
  });
  let drag: { x: number; y: number } | null = null;
  svg.addEventListener('pointerdown', ev => {
    if ((ev.target as Element).closest?.('.torsh-clickable')) {
      return; // a click on a folded block or a caption, not a drag (capture would take its click)
    }
    drag = toView(ev.clientX, ev.clientY);
    svg.setPointerCapture(ev.pointerId);
  });
  svg.addEventListener('pointermove', ev => {
    if (drag) {
      const p = toView(ev.clientX, ev.clientY);
      view = { ...view, x: view.x - (p.x - drag.x), y: view.y - (p.y - drag.y) };
      apply();
    }
  });
  svg.addEventListener('pointerup', () => (drag = null));
  svg.addEventListener('dblclick', () => {
    view = { x: 0, y: 0, w: width, h: height };
    apply();
  });
}
