// The edgerec demo page: rate a few items, get recommendations folded in on this device.
//
// Everything runs here: the model is fetched once with the page, the visitor's ratings live in
// IndexedDB (edgerec's Profile), and recommendFor / explain / similar run in WebAssembly on the
// main thread (each call takes well under a millisecond, so a worker would only add a message
// round trip to the latency shown). After the model has loaded the page makes no request.
import * as edgerec from './edgerec/src/index.js';
import { pca2 } from './pca.js';
import { TasteMap, genreColour } from './map.js';
import { Catalogue } from './catalogue.js';
import { ExplorePanel } from './explore.js';

const K = 10;
const PICK_COUNT = 30;
// Ratings are 1-5 stars; only ratings above the middle of the scale are likes. An implicit
// model (iALS, BPR) reads every value it is given as evidence that the user wants the item, so
// it is given only the likes (4 stars as 1, 5 stars as 2); the other rated items are kept out of
// the recommendations. A rating model (SVD and kin) is given the stars themselves, where a low
// rating can count against an item, and the explanations say so.
const MIDDLE = 3;
const SEARCH_LIMIT = 40;
const $ = (id) => document.getElementById(id);

const state = {
  model: null,
  profile: null,
  catalogue: null,      // Catalogue (catalogue.js): ids, titles, genres
  genreNames: [],
  itemCount: 0,
  // Model order, built after the first recommendations are on screen (the map and the search
  // need it; the first render does not, and 100,000 ids take a while to copy out of wasm).
  items: null,          // model row -> id
  index: null,          // id -> model row
  firstGenre: null,     // Int16Array, model row -> first genre index (-1 none)
  popular: [],          // ids, most popular first
  haystack: null,       // lower-case "title genres" per row, built on first search
  recs: [],
  renders: 0,
  selected: null,
  map: null,
  mapCoords: null,
  kernels: '',
  predictsRatings: false,
  scoreMode: 'popular', // what the recommendation scores are: 'popular' or 'personal' (scoreLabel)
};

// Timings for the benchmark and the tests (performance.now() is relative to navigation start).
const timings = { modelMs: 0, modelLoadedAt: 0, catalogueMs: 0, firstRecMs: 0, pcaMs: 0 };
window.edgerecDemo = { timings, ready: false, recs: () => state.recs.map((r) => r.item), error: null };

const fmtMs = (ms) => (ms < 0.1 ? '< 0.1 ms' : ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`);
const fmtInt = (n) => n.toLocaleString('en-US');

function setStatus(text, error = false) {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', error);
}

function titleOf(id) {
  return state.catalogue?.title(id) ?? id;
}

function genresOf(id) {
  return state.catalogue ? state.catalogue.genreIds(id).map((g) => state.genreNames[g] ?? String(g)) : [];
}

function known(id) {
  return state.index ? state.index.has(id) : state.model.hasItem(id);
}

// The profile's interactions limited to items this model knows (a profile can outlive a model
// rebuilt from another catalogue).
function history() {
  return state.profile.interactions().filter((x) => known(x.item));
}

function ratingOf(id) {
  return Math.round(state.profile.get(id) ?? 0);
}

// What the model is given for the visitor's ratings (see MIDDLE), and the rated items that must
// not be recommended although the model is not told about them.
function foldIn(hist = history()) {
  if (state.predictsRatings) return { interactions: hist, exclude: [] };
  return {
    interactions: hist.filter((x) => x.value > MIDDLE).map((x) => ({ item: x.item, value: x.value - MIDDLE })),
    exclude: hist.filter((x) => x.value <= MIDDLE).map((x) => x.item),
  };
}

// ---- rendering ---------------------------------------------------------------------------------

function ratingWidget(id) {
  const group = document.createElement('div');
  group.className = 'rate';
  group.setAttribute('role', 'group');
  group.setAttribute('aria-label', `Your rating of ${titleOf(id)}`);
  const current = ratingOf(id);
  for (let v = 1; v <= 5; ++v) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = '★';
    b.dataset.item = id;
    b.dataset.value = String(v);
    b.className = v <= current ? 'on' : '';
    b.setAttribute('aria-pressed', String(v === current));
    b.setAttribute('aria-label', `${v} of 5`);
    b.title = current === v ? 'Clear rating' : `Rate ${v} of 5`;
    // One tab stop per item; arrow keys move between the stars (roving tabindex).
    b.tabIndex = v === (current || 1) ? 0 : -1;
    group.append(b);
  }
  return group;
}

function itemRow(id, { score = null, why = '', selectable = true } = {}) {
  const row = $('item-row').content.firstElementChild.cloneNode(true);
  row.dataset.item = id;
  const title = row.querySelector('.title');
  title.textContent = titleOf(id);
  if (selectable) {
    title.dataset.similar = id;
    title.setAttribute('aria-label', `${titleOf(id)}: show similar items`);
  } else {
    title.disabled = true;
  }
  row.querySelector('.genres').textContent = genresOf(id).join(' · ');
  if (why instanceof Node) row.querySelector('.why').replaceChildren(why);
  else row.querySelector('.why').textContent = why;
  const label = score === null ? null : scoreLabel(score);
  row.querySelector('.score').textContent = label ? label.text : '';
  if (label) row.querySelector('.score').title = label.title;
  row.querySelector('.rate').replaceWith(ratingWidget(id));
  if (state.selected === id) row.classList.add('selected');
  return row;
}

// Scores mean different things, so each is labelled with what it is (#score-note says more):
// the popularity list scores ln(1 + training interactions) (the core's popularity_scores), shown
// as the count; a rating model predicts a rating; an implicit model scores the visitor's
// predicted preference, about 1 for items as wanted as their likes and 0 for no signal.
function scoreLabel(score, mode = state.scoreMode) {
  if (mode === 'popular') {
    const n = Math.round(Math.expm1(score));
    return { text: `${fmtInt(n)} rating${n === 1 ? '' : 's'}`, title: 'How many ratings the item had in the training data' };
  }
  if (mode === 'similar') return { text: `similarity ${score.toFixed(2)}`, title: 'Cosine similarity of the two items (1 = same direction)' };
  if (state.predictsRatings) return { text: `predicts ${score.toFixed(1)}★`, title: 'The rating the model predicts you would give' };
  return { text: `match ${score.toFixed(2)}`, title: 'Predicted preference: about 1 = as wanted as the items you liked, 0 = no signal' };
}

function scoreNote(mode) {
  if (mode === 'popular') return 'Until you like something (4★ or 5★), items are ranked by how many ratings they had.';
  if (state.predictsRatings) return 'Each score is the rating (1–5★) the model predicts you would give.';
  return 'Each “match” is the model’s predicted preference for you: about 1 means as wanted as the items you liked, 0 no signal. Only 4★ and 5★ ratings count as likes.';
}

// The explanation of one recommendation from explain()'s contributions: the liked items that
// raised its score, and (rating models) the low ratings that lowered it. No shares are claimed:
// the score also holds what no rated item explains (biases, the rest of the taste vector).
function explanation(contribs) {
  const stars = (id) => ratingOf(id);
  const liked = contribs.filter((c) => c.weight > 0 && stars(c.item) > MIDDLE).slice(0, 2);
  const against = contribs.filter((c) => c.weight < 0).sort((a, b) => a.weight - b.weight).slice(0, 1);
  const span = document.createElement('span');
  span.textContent = liked.length
    ? `Because you liked ${liked.map((c) => titleOf(c.item)).join(' and ')}`
    : 'Fits your overall taste';
  for (const c of against) {
    const b = document.createElement('span');
    b.className = 'against';
    b.textContent = ` · your ${stars(c.item)}★ for ${titleOf(c.item)} counts against it`;
    span.append(b);
  }
  return span;
}

async function renderRecs() {
  // Ratings can arrive faster than a render finishes (each awaits IndexedDB and the wasm
  // calls): only the latest render may write the list.
  const seq = ++state.renders;
  const rated = history();
  const { interactions, exclude } = foldIn(rated);
  const t0 = performance.now();
  // The diversity slider drives MMR's lambda (1 = the model's own order).
  const diversity = Number($('diversity').value);
  const options = { k: K, exclude };
  if (diversity > 0) Object.assign(options, { rerank: 'mmr', lambda: 1 - diversity });
  const recs = await state.model.recommendFor(interactions, options);
  const recMs = performance.now() - t0;
  const t1 = performance.now();
  const whys = [];
  for (const r of recs) {
    whys.push(interactions.length ? explanation((await state.model.explain(interactions, r.item, { k: interactions.length })).weights) : 'Popular with everyone');
  }
  const explainMs = performance.now() - t1;
  if (seq !== state.renders) return;
  const before = new Set(state.recs.map((r) => r.item));
  state.recs = recs;
  state.scoreMode = interactions.length ? 'personal' : 'popular';
  const list = $('recs');
  list.replaceChildren(...recs.map((r, n) => {
    const row = itemRow(r.item, { score: r.score, why: whys[n] });
    if (before.size && !before.has(r.item)) row.classList.add('fresh');
    return row;
  }));
  $('recs-heading').textContent = interactions.length ? 'Recommended for you'
    : rated.length ? 'Popular — rate items you like (4★ or 5★) to personalise' : 'Popular — rate a few items to personalise';
  $('score-note').textContent = scoreNote(state.scoreMode);
  $('rec-latency').innerHTML = '';
  $('rec-latency').append(
    `Top ${recs.length} of ${fmtInt(state.itemCount)} items in `, strong(fmtMs(recMs)),
    interactions.length ? ` (fold-in of your ${rated.length} rating${rated.length > 1 ? 's' : ''} + scoring), explanations ` : ', explanations ',
    strong(fmtMs(explainMs)), ' — on this device');
  window.edgerecDemo.lastRecMs = recMs;
  updateMap();
}

function strong(text) {
  const b = document.createElement('b');
  b.textContent = text;
  return b;
}

function renderProfile() {
  const hist = state.profile.interactions();
  const list = $('profile');
  list.replaceChildren(...hist.map((x) => {
    const ok = known(x.item);
    const row = itemRow(x.item, { selectable: ok, why: ok ? '' : 'not in this model' });
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'remove';
    remove.textContent = 'Remove';
    remove.dataset.remove = x.item;
    remove.setAttribute('aria-label', `Remove ${titleOf(x.item)} from your ratings`);
    row.querySelector('.item-side').append(remove);
    return row;
  }));
  if (!hist.length) {
    const li = document.createElement('li');
    li.className = 'note';
    li.textContent = 'No ratings yet.';
    list.append(li);
  }
  $('export').disabled = !hist.length;
  $('erase').disabled = !hist.length;
}

function renderResults() {
  const q = $('search').value.trim().toLowerCase();
  let ids;
  if (!q) {
    ids = state.popular;
    $('results-note').textContent = 'The most popular items; type to search.';
  } else {
    if (!state.haystack) {
      state.haystack = state.items.map((id) => `${titleOf(id)} ${genresOf(id).join(' ')}`.toLowerCase());
    }
    const terms = q.split(/\s+/);
    ids = [];
    let found = 0;
    for (let i = 0; i < state.haystack.length; ++i) {
      if (terms.every((t) => state.haystack[i].includes(t))) {
        if (ids.length < SEARCH_LIMIT) ids.push(state.items[i]);
        ++found;
      }
    }
    $('results-note').textContent = found === 0 ? 'No item matches.'
      : found > ids.length ? `${fmtInt(found)} matches; the first ${ids.length} are shown.` : `${found} match${found > 1 ? 'es' : ''}.`;
  }
  $('results').replaceChildren(...ids.map((id) => itemRow(id)));
}

async function renderSimilar(id) {
  state.selected = id;
  const t0 = performance.now();
  const sims = await state.model.similar(id, { k: K });
  const ms = performance.now() - t0;
  $('similar-heading').textContent = `Similar to ${titleOf(id)}`;
  $('similar-note').textContent = '';
  $('similar-latency').replaceChildren(`${sims.length} nearest of ${fmtInt(state.itemCount)} items in `, strong(fmtMs(ms)), ' — on this device');
  $('similar').replaceChildren(...sims.map((s) => {
    const row = itemRow(s.item);
    const label = scoreLabel(s.score, 'similar');
    row.querySelector('.score').textContent = label.text;
    row.querySelector('.score').title = label.title;
    return row;
  }));
  for (const row of document.querySelectorAll('li.item')) row.classList.toggle('selected', row.dataset.item === id);
  updateMap();
}

function refreshRatings() {
  // Re-draw every visible star widget from the profile (cheap: at most a hundred rows).
  for (const group of document.querySelectorAll('.rate')) {
    const id = group.querySelector('button').dataset.item;
    group.replaceWith(ratingWidget(id));
  }
}

async function everythingChanged() {
  renderProfile();
  refreshRatings();
  await renderRecs();
  if (state.explore) await state.explore.next();
}

// ---- the map -----------------------------------------------------------------------------------

// Rows scaled to unit length: similarity is about an embedding's direction, and iALS puts
// popularity into the length, which would otherwise stretch the first component along it.
function unitRows(data, rows, cols) {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; ++i) {
    const o = i * cols;
    let s = 0;
    for (let j = 0; j < cols; ++j) s += data[o + j] * data[o + j];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < cols; ++j) out[o + j] = data[o + j] * inv;
  }
  return out;
}

function buildMap() {
  const emb = state.model.itemEmbeddings();
  if (!emb || emb.cols < 2) {
    $('map-summary').textContent = 'This model kind has no item embeddings to map.';
    return;
  }
  const t0 = performance.now();
  const p = pca2(unitRows(emb.data, emb.rows, emb.cols), emb.rows, emb.cols);
  timings.pcaMs = performance.now() - t0;
  state.pca = { mean: p.mean, axes: p.axes, cols: emb.cols };
  state.mapCoords = p.coords;
  state.mapExplained = (p.variance[0] + p.variance[1]) / Math.max(1e-12, p.totalVariance);
  state.map = new TasteMap($('map'), $('map-tip'), {
    onPick: (i) => select(state.items[i]),
    label: (i) => {
      const id = state.items[i];
      const gs = genresOf(id);
      return `${titleOf(id)}${gs.length ? ' — ' + gs.join(', ') : ''}`;
    },
  });
  state.map.setPoints(p.coords, state.firstGenre, state.genreNames.length);
  const used = new Set(state.firstGenre);
  $('legend').replaceChildren(...state.genreNames.map((name, g) => {
    if (!used.has(g)) return null;
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = genreColour(g, state.genreNames.length);
    li.append(sw, name);
    return li;
  }).filter(Boolean));
  $('map').setAttribute('aria-label', `Map of ${fmtInt(emb.rows)} items`);
  updateMap();
}

// The visitor's taste on the map: the user vector folded in from the ratings (the one that
// scored the recommendations), scaled to unit length like the mapped items and projected on the
// same axes. Without userVector (an older package) it is the rating-weighted mean of the rated
// items' points.
function tasteOnMap(hist) {
  if (typeof state.model.userVector === 'function') {
    const { vector } = state.model.userVector(hist);
    const u = vector.subarray(0, state.pca.cols);
    let norm = 0;
    for (let j = 0; j < u.length; ++j) norm += u[j] * u[j];
    norm = Math.sqrt(norm);
    if (norm > 0) {
      const [a0, a1] = state.pca.axes;
      let x = 0, y = 0;
      for (let j = 0; j < u.length; ++j) {
        const v = u[j] / norm - state.pca.mean[j];
        x += v * a0[j];
        y += v * a1[j];
      }
      return [x, y];
    }
  }
  let x = 0, y = 0, w = 0;
  for (const h of hist) {
    const i = state.index.get(h.item);
    const v = h.value ?? 1;
    x += v * state.mapCoords[2 * i];
    y += v * state.mapCoords[2 * i + 1];
    w += v;
  }
  return w > 0 ? [x / w, y / w] : null;
}

function updateMap() {
  if (!state.map) return;
  const hist = history();
  const liked = foldIn(hist).interactions;
  state.taste = liked.length ? tasteOnMap(liked) : null;
  const taste = state.taste;
  state.map.setOverlay({
    rated: hist.map((h) => state.index.get(h.item)),
    recs: state.recs.map((r) => state.index.get(r.item)),
    selected: state.selected === null ? -1 : state.index.get(state.selected) ?? -1,
    taste,
  });
  let summary = `${fmtInt(state.itemCount)} items; the two axes hold ${Math.round(100 * state.mapExplained)}% of the embeddings' variance.`;
  if (taste) {
    const near = state.map.nearest(taste[0], taste[1]);
    if (near >= 0) summary += ` Your taste sits nearest to ${titleOf(state.items[near])}.`;
  }
  $('map-summary').textContent = summary;
}

// ---- actions -----------------------------------------------------------------------------------

async function rate(id, value) {
  // A new rating replaces the old one (Profile.rate sets); choosing the current rating again
  // clears it.
  if (value === ratingOf(id)) await state.profile.remove(id);
  else await state.profile.rate(id, value);
  await everythingChanged();
}

async function select(id) {
  await renderSimilar(id);
}

function exportProfile() {
  const blob = new Blob([state.profile.export()], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = 'edgerec-ratings.json';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function eraseProfile() {
  await state.profile.erase();
  await everythingChanged();
  setStatus('Your ratings were erased from this browser.');
}

function guard(fn) {
  return (...args) => Promise.resolve().then(() => fn(...args)).catch((e) => {
    console.error(e);
    setStatus(`Error: ${e.message}`, true);
  });
}

function wire() {
  document.addEventListener('click', guard(async (e) => {
    const t = e.target.closest('button');
    if (!t) return;
    if (t.dataset.value && t.dataset.item) await rate(t.dataset.item, Number(t.dataset.value));
    else if (t.dataset.similar) await select(t.dataset.similar);
    else if (t.dataset.remove) { await state.profile.remove(t.dataset.remove); await everythingChanged(); }
  }));
  document.addEventListener('keydown', (e) => {
    const t = e.target;
    if (!(t instanceof HTMLButtonElement) || !t.parentElement?.classList.contains('rate')) return;
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    const next = e.key === 'ArrowRight' ? t.nextElementSibling : t.previousElementSibling;
    if (next) { e.preventDefault(); t.tabIndex = -1; next.tabIndex = 0; next.focus(); }
  });
  $('search').addEventListener('input', () => renderResults());
  $('diversity').addEventListener('input', guard(async () => {
    $('diversity-value').textContent = Number($('diversity').value).toFixed(2);
    await renderRecs();
  }));
  $('export').addEventListener('click', exportProfile);
  $('erase').addEventListener('click', guard(eraseProfile));
  let online = '';
  window.addEventListener('offline', () => {
    online = $('status').textContent;
    setStatus('Offline — everything keeps working: the model runs on this device.');
  });
  window.addEventListener('online', () => { if (online) setStatus(online); });
}

// ---- start -------------------------------------------------------------------------------------

// The titles and genres come from the model's own item metadata (train --item-meta); a model
// without it (tools/build-demo.sh --model with one trained elsewhere) has catalogue.json beside it.
async function loadCatalogue(model) {
  const t0 = performance.now();
  const columns = model.itemMetadata();
  let cat;
  if (columns) {
    // The catalogue's name from the metadata file's: MovieLens's own names, else synthetic.
    const file = columns.source.split(/[\\/]/).pop();
    const label = { 'u.item': 'MovieLens 100K', 'movies.dat': 'MovieLens 1M', 'movies.csv': 'MovieLens' }[file];
    cat = Catalogue.fromModel(columns, label ?? 'synthetic');
  } else {
    const res = await fetch('catalogue.json');
    if (!res.ok) throw new Error(`catalogue.json: HTTP ${res.status}`);
    cat = new Catalogue(await res.json());
  }
  state.catalogue = cat;
  state.genreNames = cat.genres;
  timings.catalogueMs = performance.now() - t0;
  return cat;
}

// Model order: ids, their rows, and each row's first genre (the map's colours).
function indexModel() {
  state.items = state.model.items();
  state.index = new Map();
  state.firstGenre = new Int16Array(state.items.length);
  state.catalogue.index();
  state.items.forEach((id, i) => {
    state.index.set(id, i);
    const genres = state.catalogue.genreIds(id);
    state.firstGenre[i] = genres.length ? genres[0] : -1;
  });
}

async function start() {
  wire();
  // The model, the catalogue and the profile load in parallel (index.html preloads the first
  // two and the wasm, so they download while the modules are still arriving).
  const profileP = edgerec.Profile.open('edgerec-demo').then((p) => { timings.profileAt = performance.now(); return p; });
  const t0 = performance.now();
  timings.startAt = t0;
  const model = await edgerec.load(new URL('model.edgerec', document.baseURI));
  state.predictsRatings = model.info().predictsRatings;
  timings.modelLoadedAt = performance.now();
  timings.modelMs = timings.modelLoadedAt - t0;
  const [cat, profile] = await Promise.all([loadCatalogue(model), profileP]);
  state.model = model;
  state.profile = profile;
  const info = model.info();
  state.itemCount = info.items;

  await renderRecs();
  timings.firstRecMs = performance.now();
  performance.mark('edgerec-first-recommendation');

  setStatus(`Model ready: ${info.kind}, ${fmtInt(info.items)} items × ${info.factors} factors, ` +
    `loaded in ${fmtMs(timings.modelMs)}; first recommendations ${fmtMs(timings.firstRecMs)} after page load.`);
  $('model-facts').textContent = `edgerec ${info.version}, ${info.kernels} kernels, ${info.precision}.`;
  $('catalogue-name').textContent = `${fmtInt(info.items)} ${cat.source === 'synthetic' ? 'synthetic items' : `items of ${cat.source}`}`;
  $('profile-storage').textContent = profile.storage === 'indexeddb' ? 'IndexedDB' : 'memory only: this browser refused IndexedDB';
  renderProfile();
  // The rest waits for the first paint of the recommendations.
  await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  indexModel();
  // The picker's default list: an empty history folds in to popularity order.
  state.popular = (await model.recommendFor([], { k: PICK_COUNT })).map((r) => r.item);
  renderResults();
  $('search').disabled = false;
  $('app').setAttribute('aria-busy', 'false');
  buildMap();
  state.explore = new ExplorePanel($('explore'), {
    model, profile, visitor: () => foldIn(), titleOf, onError: (e) => { console.error(e); setStatus(`Error: ${e.message}`, true); },
  });
  await state.explore.next();
  window.edgerecDemo.ready = true;
  document.documentElement.dataset.ready = 'true';
}

// A failure before the page is usable replaces every "Loading…" placeholder with the reason
// (index.html's inline script does the same when demo.js itself cannot run, e.g. from file://).
function failed(message) {
  window.edgerecDemo.error = message;
  setStatus(message, true);
  for (const id of ['recs', 'results']) {
    const li = document.createElement('li');
    li.className = 'note failed';
    li.textContent = message;
    $(id).replaceChildren(li);
  }
  $('app').setAttribute('aria-busy', 'false');
  document.documentElement.dataset.ready = 'error';
}

start().catch((e) => {
  console.error(e);
  failed(`Could not start: ${e.message}`);
});
