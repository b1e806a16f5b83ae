// Shared by the benchmark and the browser tests (web/test/browser/, which node --test would
// run as a test file if this lived there): Debian's Chromium through playwright-core, the demo
// built by tools/build-demo.sh, and the repository's static server on 127.0.0.1.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// Flags from ../shared/TOOLCHAIN.md: headless Chromium as root, with no background traffic of
// its own (so every request the tests see comes from the page).
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-default-apps', '--disable-extensions', '--metrics-recording-only', '--mute-audio'];

/** The CLI the demo build trains with: $EDGEREC, else build/bin/edgerec. */
export function edgerecCli() {
  return process.env.EDGEREC || path.join(REPO, 'build/bin/edgerec');
}

/** A fresh temporary directory under the system temp dir (never inside the repository). */
export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A persistent context (launch() rejects --user-data-dir) in its own temp profile. */
export async function launchBrowser({ userDataDir = tempDir('edgerec-chromium-'), args = [] } = {}) {
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...args],
    viewport: { width: 1360, height: 900 },
  });
  const close = async () => {
    await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, close, userDataDir };
}

/** Runs tools/build-demo.sh with `args`; resolves to the output folder. */
export async function buildDemo(out, args = []) {
  await promisify(execFile)('bash', [path.join(REPO, 'tools/build-demo.sh'), '--out', out, ...args], {
    cwd: REPO,
    env: { ...process.env, EDGEREC: edgerecCli() },
    maxBuffer: 16 << 20,
  });
  return out;
}

/** Why the browser tests cannot run here (no Chromium), or false (node:test skips on null). Anything else they need
 * (the CLI, web/dist) is built by the README's test command, so its absence is a failure. */
export function skipReason() {
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install chromium)`;
  return false;
}

/**
 * Records every request a page (and its workers) makes, with whether it came after `mark()`.
 * Requests are recorded when issued, so one issued after the mark counts even if it fails.
 */
export function recordRequests(context) {
  const log = [];
  let marked = false;
  context.on('request', (req) => log.push({ url: req.url(), afterMark: marked, type: req.resourceType() }));
  return {
    log,
    mark() { marked = true; },
    after() { return log.filter((r) => r.afterMark); },
  };
}
