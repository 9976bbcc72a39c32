// A stand-in for an Auth0 tenant, for the companion-mode tests: it signs users in without a
// password page and runs a post-login Action file (by default the one we ship,
// examples/auth0/accrete-progressive-profiling.js) with `event` and `api` objects shaped like
// Auth0's, following Auth0's documented redirect protocol:
//
//   GET /authorize?user=<user_id>&client_id=<app>  signs the user in (logins_count + 1) and runs
//       onExecutePostLogin; after api.redirect.sendUserTo(url, { query }) the browser is sent
//       to url?<query>&state=<opaque state> (302), and the transaction waits under its state;
//   GET or POST /continue  (state, session_token) resumes it with onContinuePostLogin, where
//       api.redirect.validateToken checks the token (HS256 signature with the secret, exp, the
//       `state` claim equal to the transaction's, `sub` equal to the user) or throws
//       "The session token is invalid: ...";
//   then the metadata written with api.user.setUserMetadata / setAppMetadata is stored, and the
//   page says "Signed in to <app>" (or "Access denied" with the message of api.access.deny).
//
// api.redirect.encodeToken signs HS256 with iss = the tenant's domain (host:port, no scheme),
// sub = the user id, iat, exp = iat + expiresInSeconds (900 by default), and the payload (the
// standard claims win). Auth0's encodeToken and validateToken are synchronous while jose is not:
// the JOSE work runs in a worker thread that the caller waits for (Atomics.wait).
//
// Everything is recorded for the tests: sign-ins, the Action's HTTP calls (and their answers),
// its logs, encoded tokens, redirects, /continue requests with the validated claims or the
// error, denials.
import http from 'node:http';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { randomBytes, randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Worker, MessageChannel, receiveMessageOnPort } from 'node:worker_threads';

export const ACTION = resolve(import.meta.dirname, '..', '..', 'examples', 'auth0', 'accrete-progressive-profiling.js');
const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- synchronous JOSE (jose)

const JOSE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const jose = import(workerData.jose);
const key = (secret) => new TextEncoder().encode(secret);
parentPort.on('message', async ({ signal, op, args }) => {
  let answer;
  try {
    const { SignJWT, jwtVerify } = await jose;
    if (op === 'sign') {
      answer = { token: await new SignJWT(args.claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(key(args.secret)) };
    } else {
      const { payload } = await jwtVerify(args.token, key(args.secret), { algorithms: ['HS256'] });
      answer = { payload };
    }
  } catch (error) {
    answer = { error: { code: error.code || 'ERR', message: error.message } };
  }
  workerData.port.postMessage(answer);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
});
`;

let jose;
// Runs `op` ('sign' or 'verify') in the jose worker and waits for its answer.
function joseSync(op, args) {
  if (!jose) {
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(JOSE_WORKER, {
      eval: true,
      workerData: { jose: import.meta.resolve('jose'), port: port2 },
      transferList: [port2],
    });
    worker.unref();
    jose = { worker, port: port1 };
  }
  const signal = new Int32Array(new SharedArrayBuffer(4));
  jose.worker.postMessage({ signal, op, args });
  if (Atomics.wait(signal, 0, 0, 10_000) === 'timed-out') throw new Error('the jose worker did not answer');
  return receiveMessageOnPort(jose.port).message;
}

// ---------------------------------------------------------------- what the Action does

// The Action's HTTP calls and logs are recorded for the tenant whose execution made them.
const execution = new AsyncLocalStorage();
let patched = 0;
let originals;

function patchGlobals() {
  if (patched++ > 0) return;
  originals = { fetch: globalThis.fetch, console: { ...console } };
  globalThis.fetch = async (input, init = {}) => {
    const run = execution.getStore();
    if (!run) return originals.fetch(input, init);
    const call = { user_id: run.userId, trigger: run.trigger, method: init.method || 'GET', url: String(input?.url ?? input) };
    if (typeof init.body === 'string') {
      try { call.body = JSON.parse(init.body); } catch { call.body = init.body; }
    } else if (init.body instanceof URLSearchParams) {
      call.body = Object.fromEntries(init.body);
      if (call.body.client_secret) call.body.client_secret = '********';
    }
    call.authorization = new Headers(init.headers).get('authorization')?.split(' ')[0];
    run.tenant.records.calls.push(call);
    try {
      const response = await originals.fetch(input, init);
      call.status = response.status;
      const text = await response.clone().text();
      try { call.response = JSON.parse(text); } catch { call.response = text; }
      return response;
    } catch (error) {
      call.error = error.message;
      throw error;
    }
  };
  for (const level of ['log', 'info', 'warn', 'error']) {
    console[level] = (...args) => {
      const run = execution.getStore();
      if (!run) return originals.console[level](...args);
      run.tenant.records.logs.push({ user_id: run.userId, trigger: run.trigger, message: args.map(String).join(' ') });
      if (process.env.AUTH0_DEBUG) originals.console[level]('[action]', ...args);
    };
  }
}

function unpatchGlobals() {
  if (--patched > 0) return;
  globalThis.fetch = originals.fetch;
  Object.assign(console, originals.console);
}

// ---------------------------------------------------------------- the tenant

const clone = (value) => structuredClone(value);
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(status, title, body) {
  return {
    status,
    html: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head>`
      + `<body><main>${body}</main></body></html>`,
  };
}

// The first language of an Accept-Language header ("fr-FR"), and the tenant's language for it.
function languages(header, supported) {
  const first = (header || '').split(',')[0].split(';')[0].trim();
  const primary = first.split('-')[0].toLowerCase();
  return { language: first || undefined, locale: supported.includes(primary) ? primary : supported[0] };
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 64 * 1024) throw new Error('body too large');
  }
  return Object.fromEntries(new URLSearchParams(body));
}

// `secrets`: the Action's secrets (event.secrets; may be set later through `tenant.secrets`).
// `applications`: client id → name. `action`: the Action file.
export async function startAuth0({ action = ACTION, secrets = {}, applications = {}, supportedLanguages = ['en', 'fr'] } = {}) {
  const code = require(action);
  const server = http.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  const domain = `127.0.0.1:${port}`;
  const base = `http://${domain}`;
  const users = new Map();
  const transactions = new Map(); // state → transaction waiting for /continue
  const cache = new Map();
  const records = { logins: [], calls: [], logs: [], encoded: [], redirects: [], continues: [], denials: [], errors: [] };
  patchGlobals();

  const tenant = {
    base,
    domain,
    continueUrl: `${base}/continue`,
    secrets: { ...secrets },
    applications: { ...applications },
    records,
    users,
    // Adds a user as Auth0 keeps one; returns it (the live record).
    addUser({ email, email_verified = true, user_metadata = {}, app_metadata = {}, logins_count = 0, ...profile }) {
      const user = {
        user_id: `auth0|${randomBytes(12).toString('hex')}`,
        email,
        email_verified,
        user_metadata: clone(user_metadata),
        app_metadata: clone(app_metadata),
        logins_count,
        created_at: new Date().toISOString(),
        ...profile,
      };
      users.set(user.user_id, user);
      return user;
    },
    // The address that signs `user` in to the application `clientId`.
    authorizeUrl(user, clientId) {
      const id = typeof user === 'string' ? user : user.user_id;
      return `${base}/authorize?${new URLSearchParams({ user: id, client_id: clientId })}`;
    },
    // The records about one user.
    of(user) {
      const id = typeof user === 'string' ? user : user.user_id;
      return Object.fromEntries(Object.entries(records).map(([k, list]) => [k, list.filter((r) => r.user_id === id)]));
    },
    stop: () => new Promise((r) => {
      if (!server.listening) return r();
      unpatchGlobals();
      server.closeAllConnections();
      server.close(r);
    }),
  };

  // Auth0's post-login `event` for a sign-in of `tx.user`.
  function eventFor(tx, req) {
    const user = users.get(tx.userId);
    const { logins_count: loginsCount, ...profile } = clone(user);
    return {
      user: profile,
      client: { client_id: tx.clientId, name: tenant.applications[tx.clientId] || tx.clientId, metadata: {} },
      connection: { id: 'con_standin', name: 'Username-Password-Authentication', strategy: 'auth0' },
      stats: { logins_count: loginsCount },
      secrets: { ...tenant.secrets },
      request: {
        hostname: domain,
        ip: req.socket.remoteAddress,
        language: tx.language,
        method: req.method,
        user_agent: req.headers['user-agent'],
        query: Object.fromEntries(new URL(req.url, base).searchParams),
      },
      transaction: { id: tx.id, locale: tx.locale, protocol: 'oidc-basic-profile', requested_scopes: ['openid', 'profile', 'email'] },
      tenant: { id: 'standin' },
      authentication: { methods: [{ name: 'pwd', timestamp: new Date().toISOString() }] },
    };
  }

  // Auth0's post-login `api`; `params` are those of the /continue request.
  function apiFor(tx, params) {
    const api = {
      access: {
        deny(reason) { tx.denied = String(reason); return api; },
      },
      user: {
        setUserMetadata(name, value) { tx.writes.push(['user_metadata', name, value]); return api; },
        setAppMetadata(name, value) { tx.writes.push(['app_metadata', name, value]); return api; },
      },
      cache: {
        get(key) {
          const record = cache.get(key);
          if (record && record.expires_at <= Date.now()) cache.delete(key);
          return cache.has(key) ? { ...cache.get(key) } : undefined;
        },
        set(key, value, options = {}) {
          if (typeof value !== 'string') return { type: 'error', code: 'invalid_value' };
          const expiresAt = options.expires_at ?? Date.now() + (options.ttl ?? 15 * 60 * 1000);
          const record = { value, expires_at: expiresAt };
          cache.set(key, record);
          return { type: 'success', record: { ...record } };
        },
        delete(key) {
          cache.delete(key);
          return { type: 'success' };
        },
      },
      redirect: {
        encodeToken({ secret, expiresInSeconds = 900, payload = {} }) {
          const iat = Math.floor(Date.now() / 1000);
          // Auth0's own claims win over the payload's.
          const claims = { ...payload, iss: domain, sub: tx.userId, iat, exp: iat + expiresInSeconds };
          const answer = joseSync('sign', { secret, claims });
          if (answer.error) throw new Error(answer.error.message);
          records.encoded.push({ user_id: tx.userId, token: answer.token, claims });
          return answer.token;
        },
        sendUserTo(url, options = {}) {
          tx.redirect = { url, query: { ...(options.query || {}) } };
          return api;
        },
        validateToken({ secret, tokenParameterName = 'session_token' }) {
          const token = params?.[tokenParameterName];
          const invalid = (why) => {
            tx.validation = { token, error: `The session token is invalid: ${why}` };
            throw new Error(tx.validation.error);
          };
          if (!token) invalid(`no ${tokenParameterName} parameter was sent to /continue.`);
          const answer = joseSync('verify', { token, secret });
          if (answer.error) invalid(`${answer.error.message} (${answer.error.code})`);
          const claims = answer.payload;
          if (claims.state !== tx.state) invalid('State in the token does not match the /continue state.');
          if (claims.sub !== tx.userId) invalid('Subject in the token does not match the user.');
          tx.validation = { token, claims };
          return clone(claims);
        },
      },
    };
    return api;
  }

  // Runs one trigger of the Action, then ends the sign-in, redirects, or shows a failure.
  async function run(tx, trigger, req, params) {
    const event = eventFor(tx, req);
    const api = apiFor(tx, params);
    tx.redirect = undefined;
    try {
      if (typeof code[trigger] === 'function') {
        await execution.run({ tenant, userId: tx.userId, trigger }, () => code[trigger](event, api));
      }
    } catch (error) {
      records.errors.push({ user_id: tx.userId, trigger, message: error.message });
      const status = tx.validation?.error ? 400 : 500;
      return page(status, 'Sign-in failed', `<h1 id="error">Sign-in failed</h1><p id="message">${escape(error.message)}</p>`);
    }
    if (tx.denied !== undefined) {
      records.denials.push({ user_id: tx.userId, client_id: tx.clientId, message: tx.denied });
      return page(403, 'Access denied', `<h1 id="denied">Access denied</h1><p id="message">${escape(tx.denied)}</p>`);
    }
    if (tx.redirect) {
      tx.state = randomBytes(24).toString('base64url');
      transactions.set(tx.state, tx);
      const target = new URL(tx.redirect.url);
      for (const [key, value] of Object.entries(tx.redirect.query)) target.searchParams.set(key, value);
      target.searchParams.set('state', tx.state);
      records.redirects.push({
        user_id: tx.userId, client_id: tx.clientId, url: target.href, state: tx.state,
        session_token: tx.redirect.query.session_token,
      });
      return { status: 302, location: target.href };
    }
    // The end of the flow: the metadata written by the Action is saved (null removes a key).
    const user = users.get(tx.userId);
    for (const [bag, name, value] of tx.writes) {
      if (value === null) delete user[bag][name];
      else user[bag][name] = clone(value);
    }
    const app = tenant.applications[tx.clientId] || tx.clientId;
    return page(200, `Signed in to ${app}`, `<h1 id="signed-in">Signed in to ${escape(app)}</h1>`
      + `<pre id="user">${escape(JSON.stringify(user, null, 2))}</pre>`);
  }

  server.on('request', async (req, res) => {
    let answer;
    try {
      const url = new URL(req.url, base);
      if (url.pathname === '/authorize' && req.method === 'GET') {
        const user = users.get(url.searchParams.get('user'));
        const clientId = url.searchParams.get('client_id');
        if (!user || !clientId) {
          answer = page(400, 'Bad request', '<h1 id="error">invalid_request</h1><p id="message">unknown user or no client_id</p>');
        } else {
          user.logins_count += 1;
          const { language, locale } = languages(req.headers['accept-language'], supportedLanguages);
          const tx = { id: randomUUID(), userId: user.user_id, clientId, language, locale, writes: [] };
          records.logins.push({ user_id: user.user_id, client_id: clientId, logins_count: user.logins_count });
          answer = await run(tx, 'onExecutePostLogin', req, null);
        }
      } else if (url.pathname === '/continue' && (req.method === 'GET' || req.method === 'POST')) {
        const params = Object.fromEntries(url.searchParams);
        if (req.method === 'POST') Object.assign(params, await readForm(req));
        const tx = transactions.get(params.state);
        const record = { method: req.method, state: params.state, session_token: params.session_token };
        records.continues.push(record);
        if (!tx) {
          answer = page(400, 'Bad request', '<h1 id="error">invalid_request</h1><p id="message">The state is unknown or was already used.</p>');
        } else {
          transactions.delete(params.state);
          record.user_id = tx.userId;
          tx.validation = undefined;
          answer = await run(tx, 'onContinuePostLogin', req, params);
          record.claims = tx.validation?.claims;
          record.error = tx.validation?.error;
        }
      } else {
        answer = page(404, 'Not found', '<h1>Not found</h1>');
      }
    } catch (error) {
      answer = page(500, 'Error', `<h1 id="error">Error</h1><p id="message">${escape(error.message)}</p>`);
    }
    if (answer.location) {
      res.writeHead(answer.status, { location: answer.location, 'cache-control': 'no-store' }).end();
    } else {
      res.writeHead(answer.status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(answer.html);
    }
  });
  return tenant;
}
