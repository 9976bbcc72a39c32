// A second factor asked at the right moment (docs/mfa.md, "Asked as a progressive step"): from
// the second sign-in a policy step offers to protect the account; a person skips it once, then
// sets up an authenticator app from it and lands in the application, whose ID token says so;
// the page in French; axe-core on each.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import * as OTPAuth from 'otpauth';
import { startServer, createClient } from '../lib/server.js';
import { startRelyingParty } from '../lib/rp.js';
import { launch, checkPage } from '../lib/browser.js';

const PASSWORD = 'correct horse battery';
let server, app, browser;

before(async () => {
  server = await startServer({ policy: resolve(import.meta.dirname, '..', 'policies', 'protect.toml') });
  app = await startRelyingParty({
    issuer: server.base,
    register: (redirectUri) => createClient(server, { id: 'app', name: 'Acme', redirectUri }),
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await app?.stop();
  await server?.stop();
});

async function newPage(options = {}) {
  const context = await browser.newContext({ bypassCSP: true, locale: 'en-GB', ...options });
  return context.newPage();
}

async function signIn(page, email) {
  await page.goto(`${app.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await page.locator('#f-email').fill(email);
  await page.locator('#f-password').fill(PASSWORD);
  await page.locator('#f-password').press('Enter');
}

async function signOut(page) {
  await page.goto(`${server.base}/account/security`);
  await page.getByRole('button', { name: 'Sign out' }).first().click();
  await page.waitForURL((url) => !url.pathname.startsWith('/account'));
}

test('the second sign-in offers to protect the account; skipped once, then set up from it', async () => {
  const page = await newPage();
  await page.goto(`${app.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill('ines@example.com');
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForSelector('#signed-in');
  await signOut(page);

  // Second sign-in: the step. Skipped, the sign-in goes on with the password alone.
  await signIn(page, 'ines@example.com');
  await page.getByRole('heading', { name: 'Protect your account' }).waitFor();
  await checkPage(page, 'protect-step');
  await page.getByRole('button', { name: 'Skip for now' }).click();
  await page.waitForSelector('#signed-in');
  assert.deepEqual(app.lastClaims().amr, ['pwd']);
  await signOut(page);

  // Third sign-in: asked again; "Set it up now" opens the set-up, whose Cancel comes back.
  await signIn(page, 'ines@example.com');
  await page.getByRole('link', { name: 'Set it up now' }).click();
  await page.waitForURL(/\/mfa\/setup\?tx=/);
  await page.getByRole('link', { name: 'Cancel' }).click();
  await page.getByRole('heading', { name: 'Protect your account' }).waitFor();
  await page.getByRole('link', { name: 'Set it up now' }).click();
  await page.waitForURL(/\/mfa\/setup\?tx=/);
  const key = (await page.locator('#totp-secret').textContent()).replace(/\s+/g, '');
  const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(key) }).generate();
  await page.getByLabel('Code from your authenticator app').fill(code);
  await page.getByRole('button', { name: 'Turn on' }).click();
  await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
  await page.getByRole('link', { name: 'I saved my codes, continue' }).click();
  await page.waitForSelector('#signed-in');
  const claims = app.lastClaims();
  assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
  assert.equal(claims.acr, 'urn:accrete:acr:mfa');
  await page.context().close();
});

test('the step speaks French', async () => {
  const page = await newPage({ locale: 'fr-FR' });
  await page.goto(`${app.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await page.getByRole('link', { name: 'Créer un compte' }).click();
  await page.locator('#f-email').fill('jules@example.com');
  await page.locator('#f-password').fill(PASSWORD);
  await page.locator('#f-password').press('Enter');
  await page.waitForSelector('#signed-in');
  await page.context().clearCookies();
  await signIn(page, 'jules@example.com');
  await page.getByRole('heading', { name: 'Protégez votre compte' }).waitFor();
  await page.getByRole('link', { name: 'Configurer maintenant' }).waitFor();
  await checkPage(page, 'protect-step-fr');
  await page.context().close();
});
