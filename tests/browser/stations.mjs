// Two real station processes (the release binary) on loopback, pinned and
// verified both ways, with one active channel between them: the fixture the
// console test drives. Everything goes through the `hotline` CLI, as an
// operator would set it up, so the test also exercises the documented path.

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs the CLI to completion; resolves {code, stdout, stderr}. */
export function hotline(bin, args, { timeout = 30_000 } = {}) {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** Like hotline(), but a non-zero exit is an error naming the command. */
async function must(bin, args) {
  const r = await hotline(bin, args);
  if (r.code !== 0) {
    throw new Error(`hotline ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

const lastLine = (s) => s.trim().split('\n').pop().trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A loopback port nobody is listening on right now (the OS picks it). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** One station: a data directory, a `serve` process and its API address. */
class Station {
  constructor(bin, name, root) {
    this.bin = bin;
    this.name = name;
    this.dir = join(root, name);
    this.proc = null;
    this.log = [];
  }

  async init() {
    this.peerPort = await freePort();
    this.apiPort = await freePort();
    const out = await must(this.bin, ['--data', this.dir, 'init', '--name', this.name,
      '--listen', `127.0.0.1:${this.peerPort}`, '--api', `127.0.0.1:${this.apiPort}`]);
    this.identity = lastLine(out);
    this.adminToken = readFileSync(join(this.dir, 'admin.token'), 'utf8').trim();
    this.fingerprint = lastLine(await must(this.bin, ['--data', this.dir, 'id', '--fingerprint']));
  }

  get url() { return `http://127.0.0.1:${this.apiPort}`; }
  get peerAddr() { return `127.0.0.1:${this.peerPort}`; }

  cli(args) { return must(this.bin, ['--data', this.dir, ...args]); }

  async serve() {
    this.proc = spawn(this.bin, ['--data', this.dir, 'serve'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk) => { this.log.push(String(chunk)); if (this.log.length > 200) this.log.shift(); };
    this.proc.stdout.on('data', keep);
    this.proc.stderr.on('data', keep);
    this.exited = new Promise((r) => this.proc.once('exit', (code, sig) => r({ code, sig })));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) break;
      try {
        const r = await fetch(`${this.url}/v1/health`);
        if (r.ok) return;
      } catch (_) { /* not listening yet */ }
      await sleep(50);
    }
    throw new Error(`station ${this.name} did not come up on ${this.url}:\n${this.log.join('')}`);
  }

  /** Calls the API as the admin (or the given token); throws on a non-2xx. */
  async api(method, path, body, token = this.adminToken) {
    const r = await fetch(this.url + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const j = await r.json().catch(() => null);
    if (!r.ok) throw new Error(`${method} ${path} at ${this.name}: ${r.status} ${j && j.error}`);
    return j;
  }

  /** SIGTERM (the station drains and exits), then SIGKILL if it lingers. */
  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const done = await Promise.race([this.exited, sleep(5_000).then(() => null)]);
    if (!done) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
  }
}

/**
 * Starts alpha and bravo, pins and verifies them both ways, opens a channel
 * alpha → bravo with `flashWindow` as the FLASH acknowledgement window and
 * accepts it at bravo (`openArgs` are added to `channel open`). With `unverified`, alpha also pins a third station of
 * that name (initialised, never started, never verified) and proposes a
 * channel to it: a line that is down and ROUTINE-only. Returns {alpha, bravo,
 * channel, stranger, stop()}; call stop() in a finally block: it kills both
 * processes and removes the data.
 */
export async function twoStations(bin, { flashWindow = '10m', unverified = null, openArgs = [] } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'hotline-browser-'));
  const alpha = new Station(bin, 'alpha', root);
  const bravo = new Station(bin, 'bravo', root);
  const stop = async () => {
    await Promise.all([alpha.stop(), bravo.stop()]);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await alpha.init();
    await bravo.init();
    await Promise.all([alpha.serve(), bravo.serve()]);
    await alpha.cli(['peer', 'add', 'bravo', '--key', bravo.identity, '--addr', bravo.peerAddr]);
    await bravo.cli(['peer', 'add', 'alpha', '--key', alpha.identity, '--addr', alpha.peerAddr]);
    // The fingerprints are what the two duty officers would read to each other by phone.
    await alpha.cli(['peer', 'verify', 'bravo', '--fingerprint', bravo.fingerprint]);
    await bravo.cli(['peer', 'verify', 'alpha', '--fingerprint', alpha.fingerprint]);
    const channel = lastLine(await alpha.cli(['channel', 'open', 'bravo', '--ack-window', `flash=${flashWindow}`, ...openArgs]));
    if (!/^[0-9a-f]{64}$/.test(channel)) throw new Error(`channel open printed ${JSON.stringify(channel)}, not a channel id`);
    // The proposal reaches bravo over the link a moment later; until then accept is refused.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await hotline(bin, ['--data', bravo.dir, 'channel', 'accept', channel]);
      if (r.code === 0) break;
      if (Date.now() > deadline) throw new Error(`channel accept at bravo kept failing: ${r.stderr.trim()}`);
      await sleep(100);
    }
    let stranger = null;
    if (unverified) {
      const c = new Station(bin, unverified, root);
      await c.init();
      await alpha.cli(['peer', 'add', unverified, '--key', c.identity, '--addr', c.peerAddr]);
      stranger = lastLine(await alpha.cli(['channel', 'open', unverified]));
    }
    return { alpha, bravo, channel, stranger, root, stop };
  } catch (e) {
    const logs = `\n--- alpha log ---\n${alpha.log.join('')}\n--- bravo log ---\n${bravo.log.join('')}`;
    await stop();
    e.message += logs;
    throw e;
  }
}

// Lets a person bring the pair up by hand to look at the consoles:
//   node tests/browser/stations.mjs target/release/hotline
if (import.meta.url === `file://${process.argv[1]}`) {
  const bin = process.argv[2] || 'target/release/hotline';
  const s = await twoStations(bin, { unverified: 'charlie' });
  const op = lastLine(await s.bravo.cli(['user', 'add', 'op1', '--role', 'operator']));
  const info = { channel: s.channel, alpha: `${s.alpha.url}/#token=${s.alpha.adminToken}`, bravo: `${s.bravo.url}/#token=${s.bravo.adminToken}`, bravo_operator: `${s.bravo.url}/#token=${op}`, root: s.root };
  console.log(JSON.stringify(info, null, 2));
  if (process.argv[3]) writeFileSync(process.argv[3], JSON.stringify(info));
  const quit = async () => { await s.stop(); process.exit(0); };
  process.on('SIGINT', quit);
  process.on('SIGTERM', quit);
}
