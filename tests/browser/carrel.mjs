// The browser tests' harness: a Carrel demo library of its own (a fresh
// database in a temporary folder, on a free port), and a real headless
// Chromium (Debian's `chromium`, driven by playwright-core) that checks,
// on every page it loads, that nothing is asked of any other host and
// that axe-core finds no serious or critical accessibility violation.
//
// CARREL_BIN: the carrel binary (default ../../target/debug/carrel);
// CARREL_POLICY: a file of policies/ (default jefferson-county-mo);
// CHROMIUM: the browser (default /usr/bin/chromium).

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, copyFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export const POLICY = process.env.CARREL_POLICY ?? 'jefferson-county-mo';
const BIN = resolve(process.env.CARREL_BIN ?? join(root, process.env.CARGO_TARGET_DIR ?? 'target', 'debug', 'carrel'));

async function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** A demo library served by Carrel, in a folder of its own. */
export class Carrel {
  static async start(policy = POLICY) {
    const carrel = new Carrel();
    carrel.dir = mkdtempSync(join(tmpdir(), 'carrel-browser-'));
    carrel.policyFile = join(carrel.dir, 'policy.toml');
    copyFileSync(join(root, 'policies', `${policy}.toml`), carrel.policyFile);
    carrel.port = await freePort();
    carrel.base = `http://127.0.0.1:${carrel.port}`;
    await carrel.serve();
    return carrel;
  }

  async serve() {
    // The log runs on across restarts: the demo's cards are printed only
    // when it is generated, the first time.
    this.log = this.log ?? '';
    this.process = spawn(
      BIN,
      ['serve', '--demo', '--listen', `127.0.0.1:${this.port}`, '--policy', this.policyFile, '--purge-every', 'off'],
      { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk) => { this.log += chunk.toString(); };
    this.process.stdout.on('data', keep);
    this.process.stderr.on('data', keep);
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      if (this.process.exitCode !== null) break;
      try {
        const answer = await fetch(`${this.base}/api/v1/health`);
        if (answer.ok) return;
      } catch { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`carrel did not start (${BIN}):\n${this.log.slice(-2000)}`);
  }

  async stop() {
    if (this.process && this.process.exitCode === null) {
      const ended = new Promise((r) => this.process.once('exit', r));
      this.process.kill('SIGTERM');
      await ended;
    }
  }

  /** Serves again under a changed policy file (`edit` maps its text). */
  async restartWithPolicy(edit) {
    await this.stop();
    writeFileSync(this.policyFile, edit(readFileSync(this.policyFile, 'utf8')));
    await this.serve();
  }

  async close() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The demo's first patron card and its PIN, as the server printed them. */
  demoPatron(which = 0) {
    const match = this.log.match(/cards (\d+) to (\d+), PIN (\d+)/);
    assert.ok(match, `the demo printed no patron cards:\n${this.log}`);
    const first = BigInt(match[1]) + BigInt(which);
    return { card: first.toString(), pin: match[3] };
  }
}

/** A headless Chromium whose pages are each checked as they load. */
export class Browser {
  static async launch() {
    const browser = new Browser();
    browser.browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox'],
    });
    return browser;
  }

  /** A fresh browser profile (cookies of its own) on `carrel`. */
  async visitor(carrel) {
    const context = await this.browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    page.foreign = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.origin !== carrel.base && !['data:', 'about:'].includes(url.protocol)) {
        page.foreign.push(request.url());
      }
    });
    return page;
  }

  async close() {
    await this.browser.close();
  }
}

/**
 * Checks the page as it stands: it asked no other host for anything, it
 * has a language and a viewport, and axe-core finds no serious or
 * critical violation. axe runs through the DevTools protocol (the page's
 * CSP forbids every script, as it should).
 */
export async function checkPage(page, what) {
  assert.deepEqual(page.foreign, [], `${what}: requests to other hosts`);
  const lang = await page.getAttribute('html', 'lang');
  assert.ok(lang, `${what}: <html lang> missing`);
  const viewport = await page.locator('meta[name="viewport"]').count();
  assert.equal(viewport, 1, `${what}: no viewport meta`);
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const outcome = await axe.run(document, { resultTypes: ['violations'] });
    return outcome.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${what}: accessibility violations`);
}

/** Goes to `path`, checks the page, and returns the answer's status. */
export async function open(page, carrel, path) {
  const answer = await page.goto(`${carrel.base}${path}`);
  await checkPage(page, path);
  return answer.status();
}

/** Signs in as the demo patron `card`, on the sign-in page. */
export async function patronSignIn(page, carrel, { card, pin }) {
  await open(page, carrel, '/my/sign-in');
  await page.getByLabel('Library card number').fill(card);
  await page.getByLabel('PIN').fill(pin);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Signs in as a demo staff member (`clerk`, `director`, ...). */
export async function staffSignIn(page, carrel, role) {
  const username = role.replaceAll('_', '-');
  await open(page, carrel, '/staff/sign-in');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(`demo-${username}-pass`);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
