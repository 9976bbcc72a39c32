// Starts a real `accrete serve` on a fresh data folder and port, and runs admin commands
// against the same database.
import { spawn, execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const root = resolve(import.meta.dirname, '..', '..');
export const binary = process.env.ACCRETE_BIN || join(root, 'target', 'debug', 'accrete');

// A port free on 127.0.0.1 right now (for a server whose public URL must name its port).
async function freePort() {
  const probe = createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const { port } = probe.address();
  await new Promise((r) => probe.close(r));
  return port;
}

// `env` adds settings as environment variables (such as ACCRETE_FEDERATION__ALLOW_LOOPBACK_HTTP),
// for the server and for the admin commands. `localhost`: the public URL is
// http://localhost:PORT (passkeys need a domain name, not an IP address), and so is `base`.
export async function startServer({ policy, env: extra = {}, localhost = false } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'accrete-e2e-'));
  const env = {
    ...process.env,
    ACCRETE_DATA_DIR: dataDir,
    ACCRETE_RATE_LIMIT__PER_IP_PER_MINUTE: '0',
    ACCRETE_RATE_LIMIT__PER_ACCOUNT_PER_MINUTE: '0',
    ACCRETE_LOG_LEVEL: 'warn',
    ...extra,
  };
  delete env.ACCRETE_DATABASE_URL;
  let listen = '127.0.0.1:0';
  if (localhost) {
    const port = await freePort();
    listen = `127.0.0.1:${port}`;
    env.ACCRETE_PUBLIC_URL = `http://localhost:${port}`;
  }
  const args = ['serve', '--listen', listen];
  if (policy) args.push('--policy', policy);
  const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const line = await new Promise((resolveLine, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', resolveLine);
    child.once('exit', (code) => reject(new Error(`accrete serve exited with ${code}: ${stderr}`)));
  });
  const served = line.split(/\s+/).find((w) => w.startsWith('http://'));
  if (!served) throw new Error(`unexpected first line from accrete serve: ${line}`);
  const base = localhost ? env.ACCRETE_PUBLIC_URL : served;
  const admin = (...command) => execFileSync(binary, command, { env, encoding: 'utf8' });
  return {
    base,
    dataDir,
    admin,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// Registers a client through the CLI and returns { client_id, client_secret }.
export function createClient(server, { id, name, redirectUri, postLogoutRedirectUri, scopes }) {
  const args = ['client', 'create', '--name', name, '--redirect-uri', redirectUri, '--json'];
  if (id) args.push('--id', id);
  if (postLogoutRedirectUri) args.push('--post-logout-redirect-uri', postLogoutRedirectUri);
  for (const scope of scopes || []) args.push('--scope', scope);
  return JSON.parse(server.admin(...args));
}

// Creates a connection to an upstream provider through the CLI (`accrete connection create`).
export function createConnection(server, { name, preset = 'oidc', issuer, clientId, clientSecret, displayName }) {
  const args = ['connection', 'create', name, '--preset', preset, '--issuer', issuer,
    '--client-id', clientId, '--client-secret', clientSecret];
  if (displayName) args.push('--display-name', displayName);
  return server.admin(...args);
}
