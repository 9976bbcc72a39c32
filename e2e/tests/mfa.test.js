// Second factors as people live them (docs/mfa.md): an authenticator app set up in the account
// center, its key read from the page and its codes computed here as the phone's app would
// (RFC 6238 with otpauth); a relying party that asks for a second factor with `acr_values`; a
// recovery code that works once; a client that requires a second factor, registered through the
// management API; each page checked with axe-core, on a phone and in French.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as OTPAuth from 'otpauth';
import { startServer, createClient } from '../lib/server.js';
import { startRelyingParty } from '../lib/rp.js';
import { launch, checkPage, readQrCode } from '../lib/browser.js';

const PASSWORD = 'correct horse battery';
const MFA = 'urn:accrete:acr:mfa';
const PHONE = { width: 390, height: 844 };
let server, app, bank, browser, adminToken;

// --------------------------------------------------------------- helpers

// The code the app holding `key` (base32, as the page shows it) shows `stepsAhead` steps of 30 s
// from now. One step ahead is inside the server's drift window and is not the step just used.
function totp(key, stepsAhead = 0) {
  const generator = new OTPAuth.TOTP({
    secret: OTPAuth.Secret.fromBase32(key.replace(/\s+/g, '')),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
  });
  return generator.generate({ timestamp: Date.now() + stepsAhead * 30_000 });
}

// A code that is none of the app's codes around now.
function wrongCode(key) {
  const near = new Set([-1, 0, 1, 2].map((s) => totp(key, s)));
  for (let n = 0; ; n += 1) {
    const candidate = String(n).padStart(6, '0');
    if (!near.has(candidate)) return candidate;
  }
}

async function api(method, path, body) {
  const response = await fetch(`${server.base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// A back end holding the management scopes, through the client-credentials grant.
async function managementToken() {
  const scope = 'clients:read clients:write users:read users:write';
  const { client_id: id, client_secret: secret } = JSON.parse(server.admin(
    'client', 'create', '--name', 'Back office', '--grant', 'client_credentials', '--scope', scope, '--json',
  ));
  const discovery = await (await fetch(`${server.base}/.well-known/openid-configuration`)).json();
  const response = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }),
  });
  const tokens = await response.json();
  assert.ok(response.ok, JSON.stringify(tokens));
  return tokens.access_token;
}

async function newPage(options = {}) {
  const context = await browser.newContext({ bypassCSP: true, locale: 'en-GB', ...options });
  return context.newPage();
}

// Signs up through the relying party `rp` ("Create an account" on its sign-in page).
async function signUpThrough(page, rp, email) {
  await page.goto(`${rp.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.waitForURL(/\/signup/);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
}

// Starts a sign-in at `rp` (with `query` on its /login) and gives the password, by the inputs'
// ids (the page may be in French).
async function passwordThrough(page, rp, email, query = '') {
  await page.goto(`${rp.base}/login${query}`);
  await page.waitForURL(/\/login\?tx=/);
  await page.locator('#f-email').fill(email);
  await page.locator('#f-password').fill(PASSWORD);
  await page.locator('#f-password').press('Enter');
}

// The key shown on the set-up page, checked to look as docs/mfa.md says, and its QR code.
async function readSetupPage(page, email) {
  const key = (await page.locator('#totp-secret').textContent()).trim();
  assert.match(key, /^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/, 'the key is base32 in groups of four');
  assert.ok(key.replace(/ /g, '').length >= 26, `at least 128 bits: ${key}`);
  const qr = page.locator('.qr svg');
  assert.ok(await qr.isVisible(), 'the QR code is drawn');
  const box = await qr.boundingBox();
  assert.ok(box.width >= 120 && Math.abs(box.width - box.height) < 2, `a square QR code big enough to scan: ${JSON.stringify(box)}`);
  // Scanned from the screen, it is the same key for this account.
  const scanned = await readQrCode(qr);
  assert.ok(scanned, 'the QR code can be read');
  const uri = new URL(scanned);
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.host, 'totp');
  assert.equal(uri.searchParams.get('secret'), key.replace(/ /g, ''));
  assert.equal(uri.searchParams.get('issuer'), 'Accrete');
  assert.ok(decodeURIComponent(uri.pathname).endsWith(email), `the account is named: ${scanned}`);
  for (const [name, value] of [['algorithm', 'SHA1'], ['digits', '6'], ['period', '30']]) {
    const given = uri.searchParams.get(name);
    assert.ok(given === null || given === value, `${name}=${given} in ${scanned}`);
  }
  return key;
}

// The recovery codes on their page.
async function readRecoveryCodes(page) {
  await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
  const codes = (await page.locator('.recovery-codes code').allTextContents()).map((c) => c.trim());
  assert.equal(codes.length, 10);
  for (const c of codes) assert.match(c, /^[a-z0-9]{5}-[a-z0-9]{5}$/);
  assert.equal(new Set(codes).size, 10, 'ten different codes');
  return codes;
}

// --------------------------------------------------------------- set-up

before(async () => {
  server = await startServer();
  adminToken = await managementToken();
  // The application's own rule is off: only its acr_values asks for a second factor.
  app = await startRelyingParty({
    issuer: server.base,
    register: (redirectUri) => {
      const registered = createClient(server, { id: 'app', name: 'Acme', redirectUri });
      server.admin('client', 'update', 'app', '--mfa', 'off');
      return registered;
    },
  });
  // The bank requires a second factor of everyone, registered through the management API.
  bank = await startRelyingParty({
    issuer: server.base,
    register: async (redirectUri) => {
      const created = await api('POST', '/clients', {
        id: 'bank', name: 'Bank', redirect_uris: [redirectUri], scopes: ['openid', 'profile', 'email'], mfa: 'required',
      });
      assert.equal(created.mfa, 'required');
      return { client_id: created.id, client_secret: created.client_secret };
    },
    scope: 'openid profile email',
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await bank?.stop();
  await app?.stop();
  await server?.stop();
});

// --------------------------------------------------------------- tests

let ada; // { email, key, codes }: set up by the first test, used by the next ones

test('a person sets up an authenticator app in the account center and sees ten recovery codes', async () => {
  const email = 'ada@example.com';
  const page = await newPage();
  await signUpThrough(page, app, email);
  await page.waitForSelector('#signed-in');
  assert.equal(app.lastClaims().acr, undefined, 'one factor: no acr');
  assert.deepEqual(app.lastClaims().amr, ['pwd']);

  await page.goto(`${server.base}/account/security`);
  const section = page.locator('#mfa');
  await section.getByRole('heading', { name: 'Two-step sign-in' }).waitFor();
  assert.match(await section.textContent(), /Off\. Add an authenticator app/);
  await checkPage(page, 'mfa-account-security-off');
  await section.getByRole('link', { name: 'Set up an authenticator app' }).click();
  await page.waitForURL((url) => url.pathname === '/mfa/setup');
  await page.getByRole('heading', { name: 'Set up an authenticator app' }).waitFor();
  const key = await readSetupPage(page, email);
  await checkPage(page, 'mfa-setup');
  await page.setViewportSize(PHONE);
  await checkPage(page, 'mfa-setup-phone');
  await page.setViewportSize({ width: 1280, height: 720 });

  // A wrong code is refused on its field; the app's code turns it on.
  await page.getByLabel('Code from your authenticator app').fill(wrongCode(key));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.locator('#f-code-error, #form-alert').first().waitFor();
  assert.match(await page.locator('main').textContent(), /That code is not right/);
  assert.equal(await readSetupPage(page, email), key, 'the same key is offered again');
  await checkPage(page, 'mfa-setup-wrong');
  await page.getByLabel('Code from your authenticator app').fill(totp(key));
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/mfa/setup' && r.request().method() === 'POST'),
    page.getByRole('button', { name: 'Turn on' }).click(),
  ]);
  assert.equal(response.headers()['cache-control'], 'no-store', 'the codes are not kept by the browser');
  const codes = await readRecoveryCodes(page);
  assert.match(await page.getByRole('status').textContent(), /Your authenticator app is set up/);
  await checkPage(page, 'mfa-recovery-codes');
  await page.setViewportSize(PHONE);
  await checkPage(page, 'mfa-recovery-codes-phone');
  await page.setViewportSize({ width: 1280, height: 720 });

  await page.getByRole('link', { name: 'I saved my codes, continue' }).click();
  await page.waitForURL((url) => url.pathname === '/account/security');
  assert.match(await section.textContent(), /Authenticator app/);
  assert.match(await section.textContent(), /Recovery codes left: 10/);
  assert.ok(await section.getByRole('button', { name: 'Remove' }).isVisible());
  await checkPage(page, 'mfa-account-security-on');
  await page.setViewportSize(PHONE);
  await checkPage(page, 'mfa-account-security-on-phone');
  ada = { email, key, codes, page };
});

test('a relying party asks for a second factor with acr_values; the ID token says so', async () => {
  assert.ok(ada, 'the first test set up the app');
  // Without acr_values, the application (mfa off) signs in with the password alone.
  const plain = await newPage();
  await passwordThrough(plain, app, ada.email);
  await plain.waitForSelector('#signed-in');
  assert.deepEqual(app.lastClaims().amr, ['pwd']);
  assert.equal(app.lastClaims().acr, undefined);
  await plain.context().close();

  const page = await newPage();
  await passwordThrough(page, app, ada.email, `?acr_values=${encodeURIComponent(MFA)}`);
  await page.waitForURL((url) => url.pathname === '/mfa');
  assert.match(page.url(), /[?&]tx=/);
  await page.getByRole('heading', { name: 'Confirm it’s you' }).waitFor();
  assert.match(await page.textContent('.lead'), /continue to Acme/);
  await checkPage(page, 'mfa');
  await page.setViewportSize(PHONE);
  await checkPage(page, 'mfa-phone');
  await page.setViewportSize({ width: 1280, height: 720 });

  const field = page.getByLabel('Code from your authenticator app');
  await field.fill(wrongCode(ada.key));
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.locator('#f-code-error, #form-alert').first().waitFor();
  assert.match(await page.locator('main').textContent(), /That code is not right/);
  await checkPage(page, 'mfa-wrong');
  // The step used at set-up is refused as a replay: the next step's code, within the drift.
  const before = app.results.length;
  await field.fill(totp(ada.key, 1));
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForSelector('#signed-in');
  assert.equal(app.results.length, before + 1);
  const claims = app.lastClaims();
  assert.equal(claims.email, ada.email);
  assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
  assert.equal(claims.acr, MFA);
  await page.context().close();
});

test('a recovery code works once', async () => {
  assert.ok(ada, 'the first test set up the app');
  const query = `?acr_values=${encodeURIComponent(MFA)}`;
  const page = await newPage();
  await passwordThrough(page, app, ada.email, query);
  await page.waitForURL((url) => url.pathname === '/mfa');
  await page.getByRole('link', { name: 'Can’t use your app? Use a recovery code' }).click();
  await page.getByLabel('Recovery code').waitFor();
  assert.match(page.url(), /method=recovery/);
  assert.match(page.url(), /[?&]tx=/, 'the sign-in is kept');
  await checkPage(page, 'mfa-recovery');
  await page.getByLabel('Recovery code').fill(ada.codes[3].toUpperCase());
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForSelector('#signed-in');
  assert.deepEqual(app.lastClaims().amr, ['pwd', 'otp', 'mfa']);
  assert.equal(app.lastClaims().acr, MFA);
  await page.context().close();

  // The same code a second time is refused; the link goes back to the app's code.
  const again = await newPage();
  await passwordThrough(again, app, ada.email, query);
  await again.waitForURL((url) => url.pathname === '/mfa');
  await again.getByRole('link', { name: 'Can’t use your app? Use a recovery code' }).click();
  await again.getByLabel('Recovery code').fill(ada.codes[3]);
  await again.getByRole('button', { name: 'Continue' }).click();
  await again.locator('#f-code-error, #form-alert').first().waitFor();
  assert.match(await again.locator('main').textContent(), /That recovery code is not right, or it was used already/);
  await checkPage(again, 'mfa-recovery-used');
  await again.getByRole('link', { name: 'Use your authenticator app instead' }).click();
  await again.getByLabel('Code from your authenticator app').waitFor();
  assert.match(again.url(), /[?&]tx=/, 'the sign-in is kept');
  await again.context().close();

  // The account center counts what is left.
  await ada.page.goto(`${server.base}/account/security`);
  assert.match(await ada.page.locator('#mfa').textContent(), /Recovery codes left: 9/);
  await ada.page.context().close();
});

test('a client that requires a second factor has a new user set one up before the code', async () => {
  const email = 'bob@bank.example';
  const page = await newPage();
  await signUpThrough(page, bank, email);
  await page.waitForURL((url) => url.pathname === '/mfa/setup');
  assert.match(page.url(), /[?&]tx=/);
  await page.getByRole('heading', { name: 'Set up an authenticator app' }).waitFor();
  assert.match(await page.textContent('.lead'), /Bank asks you to protect your account with a second step/);
  const key = await readSetupPage(page, email);
  await checkPage(page, 'mfa-setup-required');
  assert.equal(bank.results.length, 0, 'no code before the second factor');

  await page.getByLabel('Code from your authenticator app').fill(totp(key));
  await page.getByRole('button', { name: 'Turn on' }).click();
  await readRecoveryCodes(page);
  await page.getByRole('link', { name: 'I saved my codes, continue' }).click();
  await page.waitForSelector('#signed-in');
  const claims = bank.lastClaims();
  assert.equal(claims.email, email);
  assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
  assert.equal(claims.acr, MFA);

  // Next time, in another browser, the bank asks for the code (its rule, no acr_values).
  const other = await newPage();
  await passwordThrough(other, bank, email);
  await other.waitForURL((url) => url.pathname === '/mfa');
  await other.getByLabel('Code from your authenticator app').fill(totp(key, 1));
  await other.getByRole('button', { name: 'Continue' }).click();
  await other.waitForSelector('#signed-in');
  assert.deepEqual(bank.lastClaims().amr, ['pwd', 'otp', 'mfa']);
  await page.context().close();
  await other.context().close();
});

test('the second-factor pages speak French', async () => {
  const email = 'zoe@example.com';
  // Zoé's browser asks for French.
  const page = await newPage({ locale: 'fr-FR' });
  await page.goto(`${server.base}/signup`);
  await page.locator('#f-email').fill(email);
  await page.locator('#f-password').fill(PASSWORD);
  await page.locator('form button[type=submit]').click();
  await page.waitForURL((url) => url.pathname === '/account');
  await page.goto(`${server.base}/account/security`);
  await page.getByRole('heading', { name: 'Connexion en deux étapes' }).waitFor();
  await checkPage(page, 'mfa-account-security-fr');
  await page.locator('#mfa a[href="/mfa/setup"]').click();
  await page.getByRole('heading', { name: 'Configurer une application d’authentification' }).waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'fr');
  const key = await readSetupPage(page, email);
  await checkPage(page, 'mfa-setup-fr');
  await page.setViewportSize(PHONE);
  await checkPage(page, 'mfa-setup-fr-phone');
  await page.getByLabel('Code de votre application d’authentification').fill(totp(key));
  await page.getByRole('button', { name: 'Activer' }).click();
  await page.getByRole('heading', { name: 'Vos codes de secours' }).waitFor();
  await checkPage(page, 'mfa-recovery-codes-fr-phone');
  await page.context().close();

  // ui_locales=fr from the application, in a browser that asks for English.
  const fr = await newPage();
  await passwordThrough(fr, app, email, `?acr_values=${encodeURIComponent(MFA)}&ui_locales=fr`);
  await fr.waitForURL((url) => url.pathname === '/mfa');
  await fr.getByRole('heading', { name: 'Confirmez que c’est vous' }).waitFor();
  assert.equal(await fr.getAttribute('html', 'lang'), 'fr');
  assert.match(await fr.textContent('.lead'), /pour continuer vers Acme/);
  await checkPage(fr, 'mfa-fr');
  await fr.setViewportSize(PHONE);
  await checkPage(fr, 'mfa-fr-phone');
  await fr.getByLabel('Code de votre application d’authentification').fill(totp(key, 1));
  await fr.getByRole('button', { name: 'Continuer' }).click();
  await fr.waitForSelector('#signed-in');
  assert.deepEqual(app.lastClaims().amr, ['pwd', 'otp', 'mfa']);
  await fr.context().close();
});
