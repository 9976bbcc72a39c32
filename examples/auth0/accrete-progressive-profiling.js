/**
 * Accrete progressive profiling for Auth0: a post-login Action (companion mode,
 * docs/companion.md in Accrete's repository; how to install it: README.md beside this file).
 *
 * At each sign-in it asks Accrete whether something is due for this user (a server-to-server
 * call: users with nothing due never leave Auth0). When something is, it sends the browser to
 * Accrete's hosted prompt pages with a signed token of the user's facts; Accrete sends it back
 * to /continue with a signed token of the answers, written into user_metadata / app_metadata.
 *
 * Secrets: ACCRETE_URL, ACCRETE_COMPANION (default "auth0"), ACCRETE_CLIENT_ID,
 * ACCRETE_CLIENT_SECRET, ACCRETE_SHARED_SECRET. No npm dependency (Node 18 or later).
 *
 * Accrete being down, slow or misconfigured never blocks a sign-in: the Action logs and lets the
 * sign-in go on (fails open). Only a person leaving a required question denies access.
 */
const crypto = require('node:crypto');

// How long a call to Accrete may take before the sign-in goes on without it.
const TIMEOUT_MS = 5000;
// How long the start token is valid: the time for the browser to reach Accrete.
const START_TOKEN_SECONDS = 600;
// The access token is dropped from the cache this long before it expires.
const TOKEN_MARGIN_SECONDS = 60;
// Standard claims of the Auth0 user that Accrete may read (fields stored as profile claims).
const PROFILE_CLAIMS = ['given_name', 'family_name', 'name', 'nickname', 'picture', 'phone_number'];

// The Action's settings, from its secrets.
function settings(event) {
  const secrets = event.secrets || {};
  const url = String(secrets.ACCRETE_URL || '').replace(/\/+$/, '');
  const name = secrets.ACCRETE_COMPANION || 'auth0';
  return {
    url,
    name,
    clientId: secrets.ACCRETE_CLIENT_ID,
    clientSecret: secrets.ACCRETE_CLIENT_SECRET,
    sharedSecret: secrets.ACCRETE_SHARED_SECRET,
    // Accrete's address for this companion: the start token's audience.
    audience: `${url}/companion/${name}`,
  };
}

// The user's language as a primary language tag ("fr"): the one saved in user_metadata, else
// Auth0's choice for this transaction, else the browser's first one ("fr-FR,fr;q=0.9" → "fr").
function locale(event) {
  const candidates = [
    event.user?.user_metadata?.locale,
    event.transaction?.locale,
    event.request?.language,
  ];
  for (const candidate of candidates) {
    if (typeof candidate !== 'string') continue;
    const match = /^\s*([a-z]{2,3})(?:[-_][a-z0-9]+)*\s*(?:[,;]|$)/i.exec(candidate);
    if (match) return match[1].toLowerCase();
  }
  return undefined;
}

// The user's facts, as the check call and the start token carry them (docs/companion.md,
// "The user's facts"). Undefined values are left out when serialised.
function facts(event) {
  const user = event.user || {};
  const profile = {};
  for (const claim of PROFILE_CLAIMS) {
    if (user[claim] !== undefined && user[claim] !== null && user[claim] !== '') {
      profile[claim] = user[claim];
    }
  }
  return {
    email: user.email,
    email_verified: user.email_verified === true,
    client_id: event.client?.client_id,
    logins_count: Number.isInteger(event.stats?.logins_count) ? event.stats.logins_count : 0,
    user_metadata: user.user_metadata || {},
    app_metadata: user.app_metadata || {},
    profile,
    locale: locale(event),
  };
}

// Only the keys the policy's fields read (the check's `reads`), so that the start token, which
// travels in a URL, stays small whatever else the metadata holds.
function only(bag, keys) {
  if (!Array.isArray(keys)) return bag;
  const kept = {};
  for (const key of keys) {
    if (bag && Object.prototype.hasOwnProperty.call(bag, key)) kept[key] = bag[key];
  }
  return kept;
}

// A client-credentials access token for the check, kept in the Action's cache until shortly
// before it expires (client_secret_post authentication).
async function accessToken(api, config) {
  const key = `accrete:${config.name}:token`;
  const cached = api.cache.get(key);
  if (cached && typeof cached.value === 'string') return cached.value;
  const response = await fetch(`${config.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'companion:check',
      client_id: config.clientId,
      client_secret: config.clientSecret,
    }),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`the token endpoint answered ${response.status}`);
  const body = await response.json();
  if (typeof body.access_token !== 'string') throw new Error('the token endpoint gave no access_token');
  const seconds = Number(body.expires_in) - TOKEN_MARGIN_SECONDS;
  if (seconds > 0) api.cache.set(key, body.access_token, { ttl: seconds * 1000 });
  return body.access_token;
}

// Accrete's decision for these facts: { due: false } or { due: true, required, step }.
async function check(api, config, userId, userFacts) {
  const token = await accessToken(api, config);
  const response = await fetch(`${config.url}/api/v1/companion/${encodeURIComponent(config.name)}/check`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ user_id: userId, ...userFacts }),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  // A token revoked or expired early: the next sign-in gets a new one.
  if (response.status === 401) api.cache.delete(`accrete:${config.name}:token`);
  if (response.status !== 200) throw new Error(`the check answered ${response.status}`);
  return response.json();
}

exports.onExecutePostLogin = async (event, api) => {
  const config = settings(event);
  if (!config.url || !config.clientId || !config.clientSecret || !config.sharedSecret) {
    console.log('Accrete: ACCRETE_URL, ACCRETE_CLIENT_ID, ACCRETE_CLIENT_SECRET and ACCRETE_SHARED_SECRET are needed; skipped');
    return;
  }
  const userFacts = facts(event);
  let decision;
  try {
    decision = await check(api, config, event.user.user_id, userFacts);
  } catch (error) {
    // Fail open: profiling never keeps anybody out.
    console.log(`Accrete: the check failed, the sign-in goes on: ${error.message}`);
    return;
  }
  if (!decision || decision.due !== true) return;

  // Something is due: off to Accrete's prompt pages with the facts, signed with the shared
  // secret (Auth0 adds iss, sub, iat and exp; `state` is added to the URL by Auth0).
  const reads = decision.reads || {};
  const sessionToken = api.redirect.encodeToken({
    secret: config.sharedSecret,
    expiresInSeconds: START_TOKEN_SECONDS,
    payload: {
      aud: config.audience,
      jti: crypto.randomUUID(),
      ...userFacts,
      user_metadata: only(userFacts.user_metadata, reads.user_metadata),
      app_metadata: only(userFacts.app_metadata, reads.app_metadata),
      profile: only(userFacts.profile, reads.profile),
    },
  });
  api.redirect.sendUserTo(`${config.url}/companion/${encodeURIComponent(config.name)}/start`, {
    query: { session_token: sessionToken },
  });
};

exports.onContinuePostLogin = async (event, api) => {
  const config = settings(event);
  // Checks the signature, the expiry and that the token's `state` is this transaction's; throws
  // (and the sign-in fails) otherwise: a forged answer must not be written.
  const answers = api.redirect.validateToken({
    secret: config.sharedSecret,
    tokenParameterName: 'session_token',
  });
  if (answers.outcome === 'declined') {
    api.access.deny(answers.message || 'A required question was not answered.');
    return;
  }
  for (const [key, value] of Object.entries(answers.user_metadata || {})) {
    api.user.setUserMetadata(key, value);
  }
  for (const [key, value] of Object.entries(answers.app_metadata || {})) {
    api.user.setAppMetadata(key, value);
  }
  // `answers.profile` (standard claims such as given_name) is not written here: Actions cannot
  // change root profile attributes; see README.md.
};
