// The demo's catalogue.json (written by tools/demo-catalogue.mjs), read column by column:
//   {"source", "genres": [name...], "ids": "<every id, concatenated>", "idLengths": [n...],
//    "titles": "<every title, concatenated>", "titleLengths": [n...],
//    "genreCounts": [n...], "genreIndex": [genre index...]}
// (lengths in UTF-16 code units, one per item, in catalogue order). Parsing that makes a few long
// strings and number arrays, where one [id, title, [genres]] array per item made 400,000 small
// objects: on a 100,000-item catalogue the parse and the id map were the biggest block of
// main-thread work before the first recommendation. Lookups before index() scan the id lengths
// and compare in place (no allocation; ~0.1-1 ms each), so the first screen's few dozen ids cost
// little; index() builds the id -> row map (the demo calls it after the first paint).
export class Catalogue {
  #ids;
  #titles;
  #idStart;
  #titleStart;
  #genreStart;
  #genreIndex;
  #index = null;
  #found = new Map();  // id -> row (or -1), for lookups before index()
  #scans = 0;

  /** `json`: the parsed catalogue.json. Throws an Error naming the field that does not fit. */
  constructor(json) {
    const fail = (what) => { throw new Error(`catalogue.json: ${what} (rebuild the demo with tools/build-demo.sh)`); };
    if (!json || typeof json !== 'object') fail('not a JSON object');
    for (const key of ['ids', 'titles']) if (typeof json[key] !== 'string') fail(`"${key}" is not a string`);
    for (const key of ['genres', 'idLengths', 'titleLengths', 'genreCounts', 'genreIndex']) {
      if (!Array.isArray(json[key])) fail(`"${key}" is not an array`);
    }
    const n = json.idLengths.length;
    if (json.titleLengths.length !== n || json.genreCounts.length !== n) {
      fail(`idLengths, titleLengths and genreCounts differ in length (${n}, ${json.titleLengths.length}, ${json.genreCounts.length})`);
    }
    const starts = (lengths, total, key) => {
      const s = new Uint32Array(n + 1);
      for (let r = 0; r < n; ++r) {
        const len = lengths[r];
        if (!Number.isInteger(len) || len < 0) fail(`${key}[${r}] is not a length`);
        s[r + 1] = s[r] + len;
      }
      if (s[n] !== total) fail(`${key} add up to ${s[n]}, not the ${total} characters they describe`);
      return s;
    };
    this.source = typeof json.source === 'string' ? json.source : '';
    this.genres = json.genres;
    this.#ids = json.ids;
    this.#titles = json.titles;
    this.#idStart = starts(json.idLengths, json.ids.length, 'idLengths');
    this.#titleStart = starts(json.titleLengths, json.titles.length, 'titleLengths');
    this.#genreStart = starts(json.genreCounts, json.genreIndex.length, 'genreCounts');
    this.#genreIndex = json.genreIndex;
  }

  /**
   * A Catalogue from a model's own item metadata (Model.itemMetadata(): titles and the "genres"
   * field), in the column form of catalogue.json; `source` labels it. An item without a title
   * shows its id.
   */
  static fromModel(columns, source) {
    const genres = columns.categorical.find((f) => f.name === 'genres');
    const n = columns.rows;
    const titles = columns.titles.map((t, r) => t || columns.ids[r]);
    const genreCounts = new Array(n);
    for (let r = 0; r < n; ++r) genreCounts[r] = genres ? genres.offsets[r + 1] - genres.offsets[r] : 0;
    return new Catalogue({
      source, genres: genres ? genres.vocabulary : [],
      ids: columns.ids.join(''), idLengths: columns.ids.map((id) => id.length),
      titles: titles.join(''), titleLengths: titles.map((t) => t.length),
      genreCounts, genreIndex: genres ? genres.codes : [],
    });
  }

  get size() { return this.#idStart.length - 1; }

  #id(row) { return this.#ids.slice(this.#idStart[row], this.#idStart[row + 1]); }

  #row(id) {
    if (typeof id !== 'string') return -1;
    if (this.#index) return this.#index.get(id) ?? -1;
    let row = this.#found.get(id);
    if (row !== undefined) return row;
    // Past a few dozen distinct ids a map of all of them is cheaper than more scans.
    if (++this.#scans > 64) return this.index().get(id) ?? -1;
    row = -1;
    const s = this.#idStart;
    const len = id.length;
    for (let r = 0, n = s.length - 1; r < n; ++r) {
      if (s[r + 1] - s[r] === len && this.#ids.startsWith(id, s[r])) { row = r; break; }
    }
    this.#found.set(id, row);
    return row;
  }

  /** Builds (once) and returns the id -> row map. */
  index() {
    if (!this.#index) {
      const m = new Map();
      for (let r = 0; r < this.size; ++r) {
        const id = this.#id(r);
        if (m.has(id)) throw new Error(`catalogue.json: item id '${id}' appears twice`);
        m.set(id, r);
      }
      this.#index = m;
      this.#found.clear();
    }
    return this.#index;
  }

  has(id) { return this.#row(id) >= 0; }

  /** The item's title, or undefined for an id the catalogue does not have. */
  title(id) {
    const r = this.#row(id);
    return r < 0 ? undefined : this.#titles.slice(this.#titleStart[r], this.#titleStart[r + 1]);
  }

  /** The item's genre indices (into `genres`); [] for an unknown id. */
  genreIds(id) {
    const r = this.#row(id);
    return r < 0 ? [] : this.#genreIndex.slice(this.#genreStart[r], this.#genreStart[r + 1]);
  }

  /** Every item as [id, title, [genre index...]], in catalogue order (for tests and tools). */
  entries() {
    return Array.from({ length: this.size }, (_, r) => [this.#id(r), this.#titles.slice(this.#titleStart[r], this.#titleStart[r + 1]),
      this.#genreIndex.slice(this.#genreStart[r], this.#genreStart[r + 1])]);
  }
}
