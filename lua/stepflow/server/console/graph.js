// The graph of a state machine or an execution: the SVG that the server
// draws with stepflow.graph (the same picture as `stepflow graph`), put
// in the page; states can be clicked, and an execution's picture is
// replaced when its states' statuses change.
import { consoleOp } from './api.js';
import { h, fill, errorBox } from './ui.js';

export class GraphView {
  /** container: the element to draw in; onSelect(name): a state was clicked. */
  constructor(container, { onSelect } = {}) {
    this.container = container;
    this.onSelect = onSelect;
    this.svgText = null;
    this.selected = null;
    this.data = null;
    this.fit = true;
    this.frame = h('div', { class: 'c-graph c-fit', 'data-graph': '' });
    const toggle = h('button', { type: 'button', class: 'c-button c-small', title: 'Fit the picture to the width or show it at its size',
      onclick: () => {
        this.fit = !this.fit;
        this.frame.classList.toggle('c-fit', this.fit);
        toggle.textContent = this.fit ? 'Actual size' : 'Fit to width';
      } }, 'Actual size');
    this.toolbar = h('div', { class: 'c-graph-bar' }, toggle);
    fill(container, this.toolbar, this.frame);
    this.frame.addEventListener('click', (e) => {
      const g = e.target.closest('g.state');
      if (g && this.onSelect) this.onSelect(g.dataset.state);
    });
    // states are buttons for the keyboard too
    this.frame.addEventListener('keydown', (e) => {
      const g = e.target.closest('g.state');
      if (g && this.onSelect && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        this.onSelect(g.dataset.state);
      }
    });
  }

  /** Loads (or reloads) the picture: {stateMachineArn} or {executionArn}. Returns the graph data. */
  async load(input) {
    let data;
    try {
      data = await consoleOp('graph', input);
    } catch (e) {
      fill(this.frame, errorBox(e));
      throw e;
    }
    this.data = data;
    if (data.svg !== this.svgText) {
      this.svgText = data.svg;
      const doc = new DOMParser().parseFromString(data.svg, 'image/svg+xml');
      const svg = document.importNode(doc.documentElement, true);
      svg.setAttribute('role', 'img');
      fill(this.frame, svg);
      this.frame.dataset.status = data.executionStatus || '';
      if (this.onSelect) {
        this.frame.classList.add('c-clickable');
        for (const g of svg.querySelectorAll('g.state')) {
          g.setAttribute('tabindex', '0');
          g.setAttribute('role', 'button');
          g.setAttribute('aria-label', g.dataset.state);
        }
      }
      this.mark();
    }
    return data;
  }

  /** Highlights a state (null: none). */
  select(name) {
    this.selected = name;
    this.mark();
  }

  mark() {
    for (const g of this.frame.querySelectorAll('g.state')) {
      g.classList.toggle('c-selected', g.dataset.state === this.selected);
    }
  }
}
