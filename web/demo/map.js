// The taste map: every item as a point at its PCA coordinates, coloured by its first genre, with
// the visitor's rated items, recommendations, the selected item and taste vector drawn on top.
//
// The points are drawn once into an offscreen layer (re-drawn only on resize), so updating the
// overlay after each rating costs one drawImage even for a 100,000-item catalogue.

export function genreColour(g, count) {
  if (g < 0) return '#8c959f';
  // Golden-angle hues stay distinct for any genre count; lightness alternates for neighbours.
  const hue = (g * 137.508) % 360;
  const light = count > 10 && g % 2 ? 38 : 50;
  return `hsl(${hue.toFixed(1)} 62% ${light}%)`;
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))];
}

export class TasteMap {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {HTMLElement} tip tooltip element (absolutely positioned over the canvas)
   * @param {{ onPick(index: number): void, label(index: number): string }} hooks
   */
  constructor(canvas, tip, hooks) {
    this.canvas = canvas;
    this.tip = tip;
    this.hooks = hooks;
    this.coords = null;
    this.groups = null;
    this.layer = document.createElement('canvas');
    this.overlay = { rated: [], recs: [], selected: -1, taste: null };
    this.view = null;
    canvas.addEventListener('click', (e) => {
      const i = this.nearestToEvent(e);
      if (i >= 0) this.hooks.onPick(i);
    });
    canvas.addEventListener('pointermove', (e) => this.showTip(e));
    canvas.addEventListener('pointerleave', () => { this.tip.hidden = true; });
    new ResizeObserver(() => this.resize()).observe(canvas);
  }

  /** coords: (x, y) per item; genre: first genre index per item (-1 none). */
  setPoints(coords, genre, genreCount) {
    this.coords = coords;
    const n = coords.length / 2;
    // Robust bounds: the 0.5% tails would otherwise squash the bulk of the cloud.
    const step = Math.max(1, Math.floor(n / 20000));
    const xs = [], ys = [];
    for (let i = 0; i < n; i += step) { xs.push(coords[2 * i]); ys.push(coords[2 * i + 1]); }
    xs.sort((a, b) => a - b);
    ys.sort((a, b) => a - b);
    const tail = n > 2000 ? 0.005 : 0;
    this.bounds = { x0: quantile(xs, tail), x1: quantile(xs, 1 - tail), y0: quantile(ys, tail), y1: quantile(ys, 1 - tail) };
    this.groups = new Map();
    for (let i = 0; i < n; ++i) {
      const g = genre[i];
      if (!this.groups.has(g)) this.groups.set(g, []);
      this.groups.get(g).push(i);
    }
    this.genreCount = genreCount;
    this.resize();
  }

  setOverlay(overlay) {
    Object.assign(this.overlay, overlay);
    this.draw();
  }

  resize() {
    if (!this.coords) return;
    const rect = this.canvas.getBoundingClientRect();
    if (rect.width < 2 || rect.height < 2) return;
    const dpr = Math.min(3, window.devicePixelRatio || 1);
    const w = Math.round(rect.width * dpr), h = Math.round(rect.height * dpr);
    this.canvas.width = w;
    this.canvas.height = h;
    this.layer.width = w;
    this.layer.height = h;
    const pad = 14 * dpr;
    const { x0, x1, y0, y1 } = this.bounds;
    const sx = (w - 2 * pad) / Math.max(1e-9, x1 - x0);
    const sy = (h - 2 * pad) / Math.max(1e-9, y1 - y0);
    this.view = { dpr, pad, x0, y1, sx, sy, w, h };
    const ctx = this.layer.getContext('2d');
    ctx.clearRect(0, 0, w, h);
    const n = this.coords.length / 2;
    const size = (n > 20000 ? 1.6 : n > 3000 ? 2.4 : 3.6) * dpr;
    ctx.globalAlpha = n > 20000 ? 0.45 : 0.7;
    for (const [g, members] of this.groups) {
      ctx.fillStyle = genreColour(g, this.genreCount);
      ctx.beginPath();
      for (const i of members) {
        const [x, y] = this.toScreen(this.coords[2 * i], this.coords[2 * i + 1]);
        ctx.rect(x - size / 2, y - size / 2, size, size);
      }
      ctx.fill();
    }
    ctx.globalAlpha = 1;
    this.draw();
  }

  toScreen(px, py) {
    const v = this.view;
    return [v.pad + (px - v.x0) * v.sx, v.pad + (v.y1 - py) * v.sy];
  }

  draw() {
    if (!this.view) return;
    const { w, h, dpr } = this.view;
    const ctx = this.canvas.getContext('2d');
    ctx.clearRect(0, 0, w, h);
    ctx.drawImage(this.layer, 0, 0);
    const style = getComputedStyle(document.documentElement);
    const accent = style.getPropertyValue('--accent').trim() || '#0b5cad';
    const star = style.getPropertyValue('--star').trim() || '#b35900';
    const text = style.getPropertyValue('--text').trim() || '#1b1f24';
    const panel = style.getPropertyValue('--panel').trim() || '#fff';
    const at = (i) => this.toScreen(this.coords[2 * i], this.coords[2 * i + 1]);
    const ring = (x, y, r, colour, width) => {
      ctx.beginPath();
      ctx.arc(x, y, r, 0, Math.PI * 2);
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.stroke();
    };
    for (const i of this.overlay.recs) {
      const [x, y] = at(i);
      ring(x, y, 5 * dpr, accent, 2 * dpr);
    }
    for (const i of this.overlay.rated) {
      const [x, y] = at(i);
      ctx.beginPath();
      ctx.arc(x, y, 4.5 * dpr, 0, Math.PI * 2);
      ctx.fillStyle = star;
      ctx.fill();
      ring(x, y, 4.5 * dpr, panel, 1.2 * dpr);
    }
    if (this.overlay.selected >= 0) {
      const [x, y] = at(this.overlay.selected);
      ring(x, y, 9 * dpr, text, 2 * dpr);
    }
    if (this.overlay.taste) {
      const [x, y] = this.toScreen(this.overlay.taste[0], this.overlay.taste[1]);
      ring(x, y, 11 * dpr, panel, 5 * dpr);
      ring(x, y, 11 * dpr, star, 3 * dpr);
      ctx.beginPath();
      ctx.moveTo(x - 5 * dpr, y); ctx.lineTo(x + 5 * dpr, y);
      ctx.moveTo(x, y - 5 * dpr); ctx.lineTo(x, y + 5 * dpr);
      ctx.strokeStyle = star;
      ctx.lineWidth = 2 * dpr;
      ctx.stroke();
      ctx.font = `600 ${12 * dpr}px system-ui, sans-serif`;
      ctx.lineWidth = 3 * dpr;
      ctx.strokeStyle = panel;
      ctx.strokeText('you', x + 14 * dpr, y + 4 * dpr);
      ctx.fillStyle = text;
      ctx.fillText('you', x + 14 * dpr, y + 4 * dpr);
    }
  }

  /** The item nearest to a map position (in PCA units), or -1. */
  nearest(px, py) {
    if (!this.coords) return -1;
    let best = -1, bestD = Infinity;
    const c = this.coords;
    const v = this.view;
    // Compare in screen units so "nearest" matches what the visitor sees.
    const kx = v.sx * v.sx, ky = v.sy * v.sy;
    for (let i = 0, n = c.length / 2; i < n; ++i) {
      const dx = c[2 * i] - px, dy = c[2 * i + 1] - py;
      const d = dx * dx * kx + dy * dy * ky;
      if (d < bestD) { bestD = d; best = i; }
    }
    return best;
  }

  nearestToEvent(e) {
    if (!this.view) return -1;
    const rect = this.canvas.getBoundingClientRect();
    const v = this.view;
    const sx = (e.clientX - rect.left) * v.dpr, sy = (e.clientY - rect.top) * v.dpr;
    const px = v.x0 + (sx - v.pad) / v.sx, py = v.y1 - (sy - v.pad) / v.sy;
    const i = this.nearest(px, py);
    if (i < 0) return -1;
    const [x, y] = this.toScreen(this.coords[2 * i], this.coords[2 * i + 1]);
    // Only a click near a point picks it.
    return Math.hypot(x - sx, y - sy) <= 14 * v.dpr ? i : -1;
  }

  showTip(e) {
    const i = this.nearestToEvent(e);
    if (i < 0) { this.tip.hidden = true; return; }
    const rect = this.canvas.getBoundingClientRect();
    this.tip.textContent = this.hooks.label(i);
    this.tip.hidden = false;
    const x = e.clientX - rect.left, y = e.clientY - rect.top;
    this.tip.style.left = `${Math.min(x + 12, rect.width - 180)}px`;
    this.tip.style.top = `${Math.max(0, y - 30)}px`;
  }
}
