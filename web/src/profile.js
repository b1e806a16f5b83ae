// Profile: the user's own interactions, kept on the device. In browsers they live in
// IndexedDB (one record per profile in the "profiles" store of the named database), so they
// survive reloads; where IndexedDB is missing or refuses (Node, some private modes and file://
// webviews) they live in memory for the page's lifetime. Nothing here ever leaves the device.
//
// One value per item. rate() sets it (a rating: rating an item again replaces the old one);
// addEvent() adds to it (implicit feedback counted per event: plays, views, purchases).
// Records are {name, format: 2, interactions: [{item, value, time}]}. Format 1 (no `format`)
// had only add(), which summed, and is read as it is: its values are what recommendFor() was
// given, whichever way they were made.
import { EdgerecError } from './errors.js';

const STORE = 'profiles';
// The record format written (see the file comment); records of a later format are refused, so
// an older page never rewrites what it does not understand.
const FORMAT = 2;

function openDatabase(name) {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: 'name' });
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error('blocked by another open connection'));
  });
}

function transact(db, mode, body) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const result = body(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(result && 'result' in result ? result.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('transaction aborted'));
  });
}

function checkItem(item) {
  if (typeof item !== 'string' || item.length === 0) throw new EdgerecError('item id must be a non-empty string');
}

function checkValue(item, value, what) {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new EdgerecError(`${what} of item '${item}' must be a finite number`);
}

export class Profile {
  #name;
  #storage;
  #db = null;
  #entries = new Map(); // item -> { item, value, time }
  #bandits = new Map(); // key -> Uint8Array: bandit states (Model.bandit({ profile }))

  constructor(name, storage, db) {
    this.#name = name;
    this.#storage = storage;
    this.#db = db;
  }

  /** Opens (creating when new) the profile `name`; see ProfileOptions in types/index.d.ts. */
  static async open(name = 'default', options = {}) {
    if (typeof name !== 'string' || name.length === 0) throw new EdgerecError('profile name must be a non-empty string');
    const wanted = options.storage || (typeof indexedDB === 'object' && indexedDB ? 'indexeddb' : 'memory');
    if (wanted !== 'indexeddb' && wanted !== 'memory') {
      throw new EdgerecError(`storage must be 'indexeddb' or 'memory', got '${wanted}'`);
    }
    if (wanted === 'indexeddb' && typeof indexedDB === 'object' && indexedDB) {
      try {
        const db = await openDatabase(options.database || 'edgerec');
        const profile = new Profile(name, 'indexeddb', db);
        const record = await transact(db, 'readonly', (store) => store.get(name));
        if (record && record.format > FORMAT) {
          db.close();
          throw new EdgerecError(`profile '${name}' was stored by a newer edgerec (record format ${record.format}; this one reads up to ${FORMAT})`);
        }
        if (record) profile.#load(record.interactions, record.bandits);
        return profile;
      } catch (e) {
        if (e instanceof EdgerecError) throw e;
        // IndexedDB exists but refuses (private mode, storage blocked): keep working in memory.
      }
    }
    return new Profile(name, 'memory', null);
  }

  get name() {
    return this.#name;
  }

  get storage() {
    return this.#storage;
  }

  #load(list, bandits) {
    this.#entries.clear();
    for (const x of list) this.#entries.set(x.item, { item: x.item, value: x.value, time: x.time });
    if (bandits && typeof bandits === 'object') {
      this.#bandits.clear();
      for (const [key, bytes] of Object.entries(bandits)) if (bytes instanceof Uint8Array) this.#bandits.set(key, bytes);
    }
  }

  async #save() {
    if (!this.#db) return;
    // `bandits` is optional in format 2: an older edgerec ignores it (and drops it when it
    // rewrites the record; the bandit then learns again).
    const record = { name: this.#name, format: FORMAT, interactions: [...this.#entries.values()] };
    if (this.#bandits.size > 0) record.bandits = Object.fromEntries(this.#bandits);
    await transact(this.#db, 'readwrite', (store) => store.put(record));
  }

  #set(item, value) {
    this.#entries.set(item, { item, value, time: Date.now() });
    return this.#save();
  }

  /** Sets the item's rating (or any value), replacing an earlier one: rating an item 5 twice stores 5. */
  async rate(item, value) {
    checkItem(item);
    checkValue(item, value, 'rating');
    await this.#set(item, value);
  }

  /** Counts an event on the item: adds `weight` (default 1) to its value, or starts it at `weight`. */
  async addEvent(item, weight = 1) {
    checkItem(item);
    checkValue(item, weight, 'weight');
    const old = this.#entries.get(item);
    const value = (old ? old.value : 0) + weight;
    if (!Number.isFinite(value)) throw new EdgerecError(`the value of item '${item}' would overflow`);
    await this.#set(item, value);
  }

  /** @deprecated Use rate() (set) or addEvent() (sum): add() is addEvent() under its old name. */
  add(item, weight = 1) {
    return this.addEvent(item, weight);
  }

  /** The item's value, or undefined when the profile does not hold it. */
  get(item) {
    return this.#entries.get(item)?.value;
  }

  async remove(item) {
    checkItem(item);
    if (this.#entries.delete(item)) await this.#save();
  }

  /** The interactions as recommendFor() takes them, in the order they were first added. */
  interactions() {
    return [...this.#entries.values()].map(({ item, value }) => ({ item, value }));
  }

  /** The saved state of the bandit stored under `key` (a copy), or undefined. */
  banditState(key) {
    const bytes = this.#bandits.get(String(key));
    return bytes ? bytes.slice() : undefined;
  }

  /** Stores a bandit's state under `key` with this profile (IndexedDB or memory; never sent anywhere). */
  async setBanditState(key, bytes) {
    if (!(bytes instanceof Uint8Array)) throw new EdgerecError('bandit state must be a Uint8Array');
    this.#bandits.set(String(key), bytes.slice());
    await this.#save();
  }

  /** JSON the user can download: {"name", "format", "interactions": [{item, value, time}]} (bandit states stay on the device). */
  export() {
    return JSON.stringify({ name: this.#name, format: FORMAT, interactions: [...this.#entries.values()] });
  }

  /** Replaces this profile's interactions with those of export()'s JSON (any profile's; an item listed twice keeps its last value). */
  async import(json) {
    let data;
    try {
      data = typeof json === 'string' ? JSON.parse(json) : json;
    } catch (e) {
      throw new EdgerecError(`profile import: not JSON: ${e.message}`);
    }
    if (!data || !Array.isArray(data.interactions)) throw new EdgerecError('profile import: no "interactions" array');
    if (data.format > FORMAT) throw new EdgerecError(`profile import: format ${data.format} is newer than this edgerec reads (${FORMAT})`);
    const list = data.interactions.map((x, i) => {
      if (!x || typeof x.item !== 'string' || x.item.length === 0) throw new EdgerecError(`profile import: interaction ${i}: no item id`);
      const value = x.value === undefined ? 1 : x.value;
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new EdgerecError(`profile import: interaction ${i}: value is not a finite number`);
      const time = typeof x.time === 'number' && Number.isFinite(x.time) ? x.time : 0;
      return { item: x.item, value, time };
    });
    this.#load(list);
    await this.#save();
  }

  /** Erases every stored interaction and bandit state of this profile (its IndexedDB record included). */
  async erase() {
    this.#entries.clear();
    this.#bandits.clear();
    if (this.#db) await transact(this.#db, 'readwrite', (store) => store.delete(this.#name));
  }
}
