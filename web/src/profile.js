// Profile: the user's own interactions, kept on the device. In browsers they live in
// IndexedDB (one record per profile in the "profiles" store of the named database), so they
// survive reloads; where IndexedDB is missing or refuses (Node, some private modes and file://
// webviews) they live in memory for the page's lifetime. Nothing here ever leaves the device.
import { EdgerecError } from './errors.js';

const STORE = 'profiles';

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

export class Profile {
  #name;
  #storage;
  #db = null;
  #entries = new Map(); // item -> { item, value, time }

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
        if (record) profile.#load(record.interactions);
        return profile;
      } catch {
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

  #load(list) {
    this.#entries.clear();
    for (const x of list) this.#entries.set(x.item, { item: x.item, value: x.value, time: x.time });
  }

  async #save() {
    if (!this.#db) return;
    const record = { name: this.#name, interactions: [...this.#entries.values()] };
    await transact(this.#db, 'readwrite', (store) => store.put(record));
  }

  /** Adds an interaction, or adds `weight` to the item's value when it is already there. */
  async add(item, weight = 1) {
    checkItem(item);
    if (typeof weight !== 'number' || !Number.isFinite(weight)) throw new EdgerecError(`weight of item '${item}' must be a finite number`);
    const old = this.#entries.get(item);
    this.#entries.set(item, { item, value: (old ? old.value : 0) + weight, time: Date.now() });
    await this.#save();
  }

  async remove(item) {
    checkItem(item);
    if (this.#entries.delete(item)) await this.#save();
  }

  /** The interactions as recommendFor() takes them, in the order they were first added. */
  interactions() {
    return [...this.#entries.values()].map(({ item, value }) => ({ item, value }));
  }

  /** JSON the user can download: {"name", "interactions": [{item, value, time}]}. */
  export() {
    return JSON.stringify({ name: this.#name, interactions: [...this.#entries.values()] });
  }

  /** Replaces this profile's interactions with those of export()'s JSON (any profile's). */
  async import(json) {
    let data;
    try {
      data = typeof json === 'string' ? JSON.parse(json) : json;
    } catch (e) {
      throw new EdgerecError(`profile import: not JSON: ${e.message}`);
    }
    if (!data || !Array.isArray(data.interactions)) throw new EdgerecError('profile import: no "interactions" array');
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

  /** Erases every stored interaction of this profile (its IndexedDB record included). */
  async erase() {
    this.#entries.clear();
    if (this.#db) await transact(this.#db, 'readwrite', (store) => store.delete(this.#name));
  }
}
