// Companion mode (docs/companion.md) in a real browser: a stand-in for an Auth0 tenant
// (lib/auth0.js) runs the Action we ship (examples/auth0/accrete-progressive-profiling.js)
// against a real `accrete serve`. Nothing due: no redirect; an optional question answered on
// Accrete's page and written into user_metadata; a skip held back by the skip rules, then asked
// again; a question required by one application left (access denied at Auth0), then answered
// into app_metadata; the way back without JavaScript; French pages from the token's locale;
// start tokens that are refused (tampered, expired, replayed, of another tenant, for another
// audience or companion, without state) with nothing stored; and the Action failing open when
// Accrete cannot be reached.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { randomUUID } from 'node:crypto';
import * as jose from 'jose';
import { startServer } from '../lib/server.js';
import { startAuth0 } from '../lib/auth0.js';
import { launch, checkPage } from '../lib/browser.js';

const SHARED_SECRET = 'companion secret shared with the Action, 48 chars';
const KEY = new TextEncoder().encode(SHARED_SECRET);
// The tenant's applications (Auth0 client ids): the shop has an Accrete client of the same id
// and a step of its own; the blog has neither.
const SHOP = 'Sh0pK3q9ZpX2mN7vB1cD4eF6gH8jL0aQ';
const BLOG = 'bl0gT5w8RyU4iO6pA3sF7dG9hJ2kL4zX';
const APPLICATIONS = { [SHOP]: 'Shop', [BLOG]: 'Blog' };

// An optional company (user_metadata) asked at every sign-in while unknown, asked again two
// sign-ins after a skip; a customer number (app_metadata) required for the shop only.
const POLICY = `
version = 1

[settings]
default_locale = "en"
max_optional_steps_per_signin = 1

[[fields]]
key = "company"
kind = "text"
labels = { en = "Company", fr = "Entreprise" }
validation = { max_length = 80 }

[[fields]]
key = "customer_number"
kind = "text"
labels = { en = "Customer number", fr = "Numéro de client" }
storage = "app_metadata"
validation = { pattern = "C-[0-9]{4}" }

[[steps]]
id = "work"
title = { en = "About your work", fr = "Votre travail" }
fields = ["company"]
mode = { optional = { reask_after_logins = 2 } }
trigger = { moments = ["login"] }

[[steps]]
id = "shop"
title = { en = "Your shop account", fr = "Votre compte boutique" }
fields = ["customer_number"]
mode = "required"
trigger = { moments = ["login"], condition = { client = { ids = ["${SHOP}"] } } }
`;

// What the check says the policy's fields read (the start token carries only these keys).
const READS = { user_metadata: ['company'], app_metadata: ['customer_number'], profile: [] };

let tenant, configDir, server, browser, companionClient, backOffice;
const contexts = [];

before(async () => {
  tenant = await startAuth0({ applications: APPLICATIONS });
  configDir = mkdtempSync(join(tmpdir(), 'accrete-companion-'));
  const policy = join(configDir, 'policy.toml');
  writeFileSync(policy, POLICY);
  const config = join(configDir, 'accrete.toml');
  writeFileSync(config, `
[[companions]]
name = "auth0"
kind = "auth0"
issuer = "${tenant.domain}"
secret = "${SHARED_SECRET}"
continue_url = "${tenant.continueUrl}"
client = "auth0-companion"
`);
  server = await startServer({ policy, env: { ACCRETE_CONFIG: config } });
  companionClient = JSON.parse(server.admin(
    'client', 'create', '--name', 'Auth0 companion', '--id', 'auth0-companion',
    '--grant', 'client_credentials', '--scope', 'companion:check', '--json',
  ));
  server.admin('client', 'create', '--id', SHOP, '--name', 'Shop', '--redirect-uri', `${tenant.base}/callback`, '--json');
  backOffice = JSON.parse(server.admin(
    'client', 'create', '--name', 'Back office', '--grant', 'client_credentials', '--scope', 'users:read', '--json',
  ));
  tenant.secrets = secretsFor(server.base);
  browser = await launch();
});

after(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await server?.stop();
  await tenant?.stop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

// The Action's secrets, for an Accrete at `url`.
function secretsFor(url, clientSecret = companionClient.client_secret) {
  return {
    ACCRETE_URL: url,
    ACCRETE_COMPANION: 'auth0',
    ACCRETE_CLIENT_ID: companionClient.client_id,
    ACCRETE_CLIENT_SECRET: clientSecret,
    ACCRETE_SHARED_SECRET: SHARED_SECRET,
  };
}

async function newPage(locale = 'en-US') {
  // No bypassCSP: Accrete's page that posts the answers back must work under its own policy.
  const context = await browser.newContext({ locale });
  contexts.push(context);
  return context.newPage();
}

// The stand-in's last page, or Accrete's prompt page.
const settled = (page) => page.locator('#signed-in, #denied, #error, form[action="/prompt"] button[name=action]').first();

// Signs `user` in at the stand-in to `clientId`; stops on Accrete's prompt page or at the end.
async function signIn(user, clientId, { page, locale } = {}) {
  page ??= await newPage(locale);
  await page.goto(tenant.authorizeUrl(user, clientId));
  await settled(page).waitFor();
  return page;
}

const onAccrete = (page) => new URL(page.url()).origin === server.base;

// Presses a button of the prompt page and waits for the browser to be back at the stand-in.
async function press(page, value) {
  await page.locator(`button[name=action][value=${value}]`).click();
  await page.waitForURL((url) => url.href.startsWith(tenant.continueUrl));
  await page.locator('#signed-in, #denied, #error').first().waitFor();
}

const checksOf = (user) => tenant.of(user).calls.filter((c) => c.url.endsWith('/api/v1/companion/auth0/check'));

// The start token as the stand-in signed it, verified as Accrete must.
async function verifyStart(token, user) {
  const { payload } = await jose.jwtVerify(token, KEY, {
    algorithms: ['HS256'], issuer: tenant.domain, audience: `${server.base}/companion/auth0`, subject: user.user_id,
  });
  return payload;
}

// The answers token Accrete posted to /continue, verified with the shared secret.
async function verifyAnswers(token, user) {
  const { payload } = await jose.jwtVerify(token, KEY, {
    algorithms: ['HS256'], issuer: server.base, audience: tenant.domain, subject: user.user_id,
  });
  assert.equal(payload.exp - payload.iat, 120, 'an answers token lives 120 s');
  assert.ok(payload.jti, 'an answers token has an id');
  return payload;
}

async function clientCredentials(client, scope) {
  const response = await fetch(`${server.base}/token`, {
    method: 'POST',
    // client_secret_basic here (the Action uses client_secret_post): Accrete takes both.
    headers: { authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  return body.access_token;
}

// Accrete's decision for `user` of the stand-in, asked as the Action does.
async function check(user, clientId = BLOG) {
  const token = await clientCredentials(companionClient, 'companion:check');
  const response = await fetch(`${server.base}/api/v1/companion/auth0/check`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      user_id: user.user_id, email: user.email, email_verified: true, client_id: clientId,
      logins_count: user.logins_count, user_metadata: user.user_metadata, app_metadata: user.app_metadata, profile: {},
    }),
  });
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  return body;
}

// Accrete's users with this email address (management API, users:read). Every page of the list
// is read: a companion's user is keyed by its subject at the provider, not by its address.
async function accreteUsers(email) {
  const token = await clientCredentials(backOffice, 'users:read');
  const found = [];
  let cursor;
  do {
    const query = new URLSearchParams({ limit: '100', ...(cursor ? { cursor } : {}) });
    const response = await fetch(`${server.base}/api/v1/users?${query}`, { headers: { authorization: `Bearer ${token}` } });
    const body = await response.json();
    assert.equal(response.status, 200, JSON.stringify(body));
    found.push(...body.items.filter((u) => u.email.toLowerCase() === email));
    cursor = body.next_cursor;
  } while (cursor);
  return found;
}

test('nothing due: the sign-in goes on at Auth0 without leaving it', async () => {
  const ann = tenant.addUser({ email: 'ann@example.com', logins_count: 4, given_name: 'Ann', user_metadata: { company: 'Acme' } });
  const page = await signIn(ann, BLOG);
  assert.equal(await page.textContent('#signed-in'), 'Signed in to Blog');
  const seen = tenant.of(ann);
  assert.equal(seen.redirects.length, 0, 'no sendUserTo');
  assert.equal(seen.encoded.length, 0, 'no start token');
  const [call] = checksOf(ann);
  assert.ok(call, 'the Action asked Accrete');
  assert.equal(call.status, 200);
  assert.equal(call.response.due, false);
  assert.equal(call.authorization, 'Bearer');
  assert.deepEqual(call.body, {
    user_id: ann.user_id, email: 'ann@example.com', email_verified: true, client_id: BLOG, logins_count: 5,
    user_metadata: { company: 'Acme' }, app_metadata: {}, profile: { given_name: 'Ann' }, locale: 'en',
  });
  const token = seen.calls.find((c) => c.url === `${server.base}/token`);
  assert.equal(token.status, 200, 'client credentials, client_secret_post');
  assert.equal(token.body.scope, 'companion:check');
});

test('the check refuses a call without a token and a body without user_id', async () => {
  const anonymous = await fetch(`${server.base}/api/v1/companion/auth0/check`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: 'auth0|1' }),
  });
  assert.equal(anonymous.status, 401);
  const token = await clientCredentials(companionClient, 'companion:check');
  const refused = await fetch(`${server.base}/api/v1/companion/auth0/check`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'nobody@example.com', logins_count: 'many' }),
  });
  assert.equal(refused.status, 400);
  assert.match(refused.headers.get('content-type'), /^application\/problem\+json/);
});

test('an optional question answered on Accrete is written into user_metadata at Auth0', async () => {
  const bob = tenant.addUser({
    email: 'bob@example.com', logins_count: 4, given_name: 'Bob',
    app_metadata: { roles: ['reader'], plan: 'gold' },
  });
  const page = await signIn(bob, BLOG);
  assert.ok(onAccrete(page), `on Accrete's prompt page: ${page.url()}`);
  await page.getByLabel('Company').waitFor();
  assert.equal(await page.locator('button[name=action][value=skip]').count(), 1, 'an optional step can be skipped');
  // The blog has no Accrete client: the page is the companion client's.
  assert.match(await page.locator('p.lead').textContent(), /Auth0 companion/);
  await checkPage(page, 'companion-prompt');

  const [call] = checksOf(bob);
  assert.deepEqual(call.response, {
    due: true, required: false, step: 'work',
    reads: READS,
  });
  const [redirect] = tenant.of(bob).redirects;
  const start = new URL(redirect.url);
  assert.equal(`${start.origin}${start.pathname}`, `${server.base}/companion/auth0/start`);
  assert.ok(start.searchParams.get('state'), "Auth0's state is in the URL");
  const claims = await verifyStart(redirect.session_token, bob);
  assert.equal(claims.exp - claims.iat, 600);
  assert.match(claims.jti, /^[0-9a-f-]{36}$/);
  assert.equal(claims.client_id, BLOG);
  assert.equal(claims.logins_count, 5);
  // Only what the policy's fields read travels in the start token's URL.
  assert.deepEqual(claims.profile, {});
  assert.deepEqual(claims.app_metadata, {}, 'roles and plan are not read by the policy');

  await page.getByLabel('Company').fill('Initech');
  await press(page, 'submit');
  assert.equal(await page.textContent('#signed-in'), 'Signed in to Blog');
  assert.deepEqual(bob.user_metadata, { company: 'Initech' }, 'written with api.user.setUserMetadata');
  assert.deepEqual(bob.app_metadata, { roles: ['reader'], plan: 'gold' }, 'left as it was');

  const [back] = tenant.of(bob).continues;
  assert.equal(back.method, 'POST', 'the answers come in a POST body, not in the URL');
  assert.equal(back.state, redirect.state);
  const answers = await verifyAnswers(back.session_token, bob);
  assert.deepEqual(back.claims, answers, "the stand-in's validateToken accepted it");
  assert.equal(answers.state, redirect.state);
  assert.equal(answers.outcome, 'completed');
  assert.deepEqual(answers.user_metadata, { company: 'Initech' });
  assert.deepEqual(answers.app_metadata, {});
  assert.deepEqual(answers.skipped, []);

  // The next sign-in: Auth0 has the company, nothing is due.
  await signIn(bob, BLOG, { page });
  await page.locator('#signed-in').waitFor();
  assert.equal(tenant.of(bob).redirects.length, 1);
  assert.equal(checksOf(bob).at(-1).response.due, false);
});

test('without JavaScript the person presses "Continue" to go back to Auth0', async () => {
  const gina = tenant.addUser({ email: 'gina@example.com', logins_count: 4 });
  const context = await browser.newContext({ locale: 'en-US', javaScriptEnabled: false });
  contexts.push(context);
  const page = await signIn(gina, BLOG, { page: await context.newPage() });
  await page.getByLabel('Company').fill('Hooli');
  await page.locator('button[name=action][value=submit]').click();
  // Accrete's page holding the answers in a form for the continue URL.
  const form = page.locator(`form[action^="${tenant.continueUrl}"]`);
  await form.waitFor();
  assert.ok(onAccrete(page), "the page that goes back is Accrete's");
  assert.equal(await form.getAttribute('method'), 'post');
  assert.equal(tenant.of(gina).continues.length, 0, 'nothing sent before the button is pressed');
  // (No axe check here: axe-core cannot run where JavaScript is off.)
  await form.getByRole('button', { name: 'Continue' }).click();
  await page.locator('#signed-in').waitFor();
  assert.deepEqual(gina.user_metadata, { company: 'Hooli' });
});

test('a skipped question is held back by the skip rules, then asked again', async () => {
  const carl = tenant.addUser({ email: 'carl@example.com', logins_count: 4 });
  const page = await signIn(carl, BLOG); // the 5th sign-in
  assert.ok(onAccrete(page));
  await page.getByLabel('Company').waitFor();
  await press(page, 'skip');
  assert.equal(await page.textContent('#signed-in'), 'Signed in to Blog');
  const [back] = tenant.of(carl).continues;
  const answers = await verifyAnswers(back.session_token, carl);
  assert.equal(answers.outcome, 'completed');
  assert.deepEqual(answers.skipped, ['work']);
  assert.deepEqual(answers.user_metadata, {});
  assert.deepEqual(carl.user_metadata, {}, 'nothing written');

  // 6th sign-in: asked again only two sign-ins after the skip (reask_after_logins = 2).
  await signIn(carl, BLOG, { page });
  await page.locator('#signed-in').waitFor();
  assert.equal(checksOf(carl).at(-1).body.logins_count, 6);
  assert.equal(checksOf(carl).at(-1).response.due, false, 'held back by the skip rule');
  assert.equal(tenant.of(carl).redirects.length, 1, 'no redirect');

  // 7th sign-in: due again.
  await signIn(carl, BLOG, { page });
  assert.equal(checksOf(carl).at(-1).body.logins_count, 7);
  assert.deepEqual(checksOf(carl).at(-1).response, { due: true, required: false, step: 'work', reads: READS });
  assert.ok(onAccrete(page), 'asked again');
  await page.getByLabel('Company').waitFor();
});

test("leaving a question the shop requires denies access at Auth0; answering it writes app_metadata", async () => {
  const dana = tenant.addUser({ email: 'dana@example.com', logins_count: 4, user_metadata: { company: 'Acme' } });
  // The blog asks nothing of her: the step is the shop's.
  const blog = await signIn(dana, BLOG);
  await blog.locator('#signed-in').waitFor();
  assert.equal(checksOf(dana).at(-1).response.due, false);

  const page = await signIn(dana, SHOP);
  assert.ok(onAccrete(page));
  assert.deepEqual(checksOf(dana).at(-1).response, { due: true, required: true, step: 'shop', reads: READS });
  await page.getByLabel('Customer number').waitFor();
  assert.match(await page.locator('p.lead').textContent(), /Shop/, "the page is the shop's (its Accrete client)");
  assert.equal(await page.locator('button[name=action][value=skip]').count(), 0, 'a required step has no skip');
  await press(page, 'cancel');
  const message = await page.textContent('#message');
  assert.ok(message.trim().length > 0, 'the denial says why');
  const [back] = tenant.of(dana).continues;
  const answers = await verifyAnswers(back.session_token, dana);
  assert.equal(answers.outcome, 'declined');
  assert.equal(message, answers.message, "api.access.deny got Accrete's message");
  assert.deepEqual(tenant.of(dana).denials.map((d) => d.client_id), [SHOP]);
  assert.deepEqual(dana.app_metadata, {}, 'nothing written');

  // Signing in again asks again; an answer is written into app_metadata.
  await signIn(dana, SHOP, { page });
  assert.ok(onAccrete(page));
  await page.getByLabel('Customer number').fill('C-1234');
  await press(page, 'submit');
  assert.equal(await page.textContent('#signed-in'), 'Signed in to Shop');
  assert.deepEqual(dana.app_metadata, { customer_number: 'C-1234' }, 'written with api.user.setAppMetadata');
  assert.deepEqual(dana.user_metadata, { company: 'Acme' });
  const answered = await verifyAnswers(tenant.of(dana).continues.at(-1).session_token, dana);
  assert.deepEqual(answered.app_metadata, { customer_number: 'C-1234' });
});

test("the pages speak the token's locale (French) and the denial is in French", async () => {
  // An English browser: the language comes from the user's locale at Auth0.
  const chloe = tenant.addUser({ email: 'chloe@example.com', logins_count: 4, user_metadata: { locale: 'fr' } });
  const page = await signIn(chloe, BLOG, { locale: 'en-US' });
  assert.ok(onAccrete(page));
  assert.equal(tenant.of(chloe).encoded[0].claims.locale, 'fr');
  await page.getByLabel('Entreprise').waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'fr');
  await checkPage(page, 'companion-prompt-fr');
  await page.getByLabel('Entreprise').fill('Société Générale');
  await press(page, 'submit');
  assert.deepEqual(chloe.user_metadata, { locale: 'fr', company: 'Société Générale' });

  await signIn(chloe, SHOP, { page });
  await page.getByLabel('Numéro de client').waitFor();
  await press(page, 'cancel');
  const declined = await verifyAnswers(tenant.of(chloe).continues.at(-1).session_token, chloe);
  assert.equal(declined.outcome, 'declined');
  assert.ok(declined.message, 'the answers token carries a message');
  assert.equal(await page.textContent('#message'), declined.message, "api.access.deny got Accrete's message");
  // The same denial for an English speaker.
  const dora = tenant.addUser({ email: 'dora@example.com', logins_count: 4, user_metadata: { company: 'Acme' } });
  await signIn(dora, SHOP, { page });
  await page.getByLabel('Customer number').waitFor();
  await press(page, 'cancel');
  const english = await page.textContent('#message');
  assert.notEqual(declined.message, english, 'the message is in French');
});

test('refused start tokens are error pages, and nothing is stored', async () => {
  const eve = tenant.addUser({ email: 'eve@example.com', logins_count: 4 });
  // Eve's sign-in, stopped at the redirect: the start URL as Auth0 makes it.
  const redirected = await fetch(tenant.authorizeUrl(eve, BLOG), { redirect: 'manual' });
  assert.equal(redirected.status, 302);
  const start = new URL(redirected.headers.get('location'));
  const token = start.searchParams.get('session_token');
  const state = start.searchParams.get('state');
  const { claims } = tenant.of(eve).encoded[0];
  const now = Math.floor(Date.now() / 1000);
  const sign = (payload) => new jose.SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(KEY);
  const flip = (jwt) => {
    const i = jwt.lastIndexOf('.') + 5;
    return jwt.slice(0, i) + (jwt[i] === 'A' ? 'B' : 'A') + jwt.slice(i + 1);
  };
  const startUrl = (params, name = 'auth0') => `${server.base}/companion/${name}/start?${new URLSearchParams(params)}`;
  // Eve's start token signed anew by the test (the shared secret is known here), with `changes`.
  const resigned = (changes = {}) => sign({ ...claims, jti: randomUUID(), ...changes });

  // Another tenant with the same Action and secret: its tokens name itself as their issuer.
  const other = await startAuth0({ applications: APPLICATIONS, secrets: secretsFor(server.base) });
  const mallory = other.addUser({ email: 'mallory@example.com', logins_count: 4 });
  const foreign = await fetch(other.authorizeUrl(mallory, BLOG), { redirect: 'manual' });
  const foreignUrl = foreign.headers.get('location');
  await other.stop();
  assert.equal(new URL(foreignUrl).origin, server.base, "the other tenant's Action sends the browser to Accrete");

  // [name, start URL, the reason under "Details for developers", the browser's language]
  const expired = await resigned({ locale: undefined, iat: now - 1200, exp: now - 600 });
  const elsewhere = await resigned({ aud: `${server.base}/companion/okta` });
  const refusals = [
    ['tampered', startUrl({ session_token: flip(token), state }), 'invalid_token', 'en-US'],
    ['expired', startUrl({ session_token: expired, state }), 'token_expired', 'fr-FR'],
    ['foreign-tenant', foreignUrl, 'wrong_issuer', 'en-US'],
    ['no-state', startUrl({ session_token: await resigned() }), 'missing_state', 'en-US'],
    ['wrong-audience', startUrl({ session_token: elsewhere, state }), 'wrong_audience', 'en-US'],
    ['unknown-companion', startUrl({ session_token: await resigned(), state }, 'okta'), 'unknown_companion', 'en-US'],
  ];
  for (const [name, url, code, locale] of refusals) {
    const page = await newPage(locale);
    const response = await page.goto(url);
    assert.ok(response.status() >= 400 && response.status() < 500, `${name}: status ${response.status()}`);
    assert.ok(onAccrete(page), `${name}: the error is Accrete's page`);
    assert.equal(await page.getAttribute('html', 'lang'), locale.slice(0, 2), `${name}: in the person's language`);
    const alert = await page.locator('[role=alert]').first().textContent();
    assert.ok(alert.trim().length > 10 && !alert.includes(code), `${name}: words for the person: ${alert}`);
    assert.match(await page.locator('details.developers').textContent(), new RegExp(code), `${name}: details for developers`);
    await checkPage(page, `companion-refused-${name}`);
  }
  assert.equal(tenant.of(eve).continues.length, 0, 'nobody went back to Auth0');
  assert.deepEqual(await accreteUsers('eve@example.com'), [], 'no user stored');
  assert.deepEqual(await accreteUsers('mallory@example.com'), [], 'no user of the other tenant stored');
  assert.equal((await check(eve)).due, true, 'still due');

  // The genuine token works once (the user is created then), and is refused the second time.
  const page = await newPage();
  await page.goto(`${server.base}${start.pathname}${start.search}`);
  await page.getByLabel('Company').waitFor();
  assert.equal((await accreteUsers('eve@example.com')).length, 1, 'the start stored the user');
  const replay = await newPage();
  const response = await replay.goto(start.href);
  assert.ok(response.status() >= 400 && response.status() < 500, `replayed: status ${response.status()}`);
  assert.match(await replay.locator('details.developers').textContent(), /token_replayed/);
  await checkPage(replay, 'companion-refused-replayed');
  assert.equal((await accreteUsers('eve@example.com')).length, 1, 'no second user');
});

test('the Action fails open when Accrete cannot be reached or refuses its credentials', async () => {
  // A port where nothing listens.
  const probe = createServer();
  await new Promise((r) => probe.listen(0, '127.0.0.1', r));
  const closed = `http://127.0.0.1:${probe.address().port}`;
  await new Promise((r) => probe.close(r));

  for (const [name, secrets, logged] of [
    ['down', secretsFor(closed), /the check failed, the sign-in goes on/],
    ['wrong secret', secretsFor(server.base, 'not the secret'), /the token endpoint answered 40[01]/],
  ]) {
    const standIn = await startAuth0({ applications: APPLICATIONS, secrets });
    try {
      const fred = standIn.addUser({ email: 'fred@example.com', logins_count: 4 });
      const page = await newPage();
      await page.goto(standIn.authorizeUrl(fred, SHOP));
      await page.locator('#signed-in').waitFor();
      assert.equal(await page.textContent('#signed-in'), 'Signed in to Shop', `${name}: the sign-in goes on`);
      assert.equal(standIn.of(fred).redirects.length, 0, `${name}: no redirect`);
      assert.match(standIn.of(fred).logs.map((l) => l.message).join('\n'), logged, `${name}: logged`);
    } finally {
      await standIn.stop();
    }
  }
});
