// edgerec/single — dist/edgerec.single.js: the wasm inlined (base64) and the package API in one
// script, for webviews and file:// pages that cannot fetch a .wasm. Loaded as a classic
// <script> or imported for its side effect (`import 'edgerec/single'`), it sets
// globalThis.edgerec; it has no ES exports. LoadOptions.wasm is not used (the wasm is inlined).
import type { EdgerecError, LoadOptions, Model, Profile } from './index.js';

export interface EdgerecSingle {
  load(source: string | URL | Response | ArrayBuffer | Uint8Array, options?: LoadOptions): Promise<Model>;
  Model: typeof Model;
  Profile: typeof Profile;
  EdgerecError: typeof EdgerecError;
  version: string;
}

declare global {
  // eslint-disable-next-line no-var
  var edgerec: EdgerecSingle;
}

export {};
