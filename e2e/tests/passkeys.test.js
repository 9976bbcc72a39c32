// Passkeys with Chromium's virtual authenticator (over the DevTools protocol): a passkey added
// on the account center signs the person in to an application with no password, and the ID
// token says how (amr); renaming and removing it; the pages in English and French.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, createClient } from '../lib/server.js';
import { startRelyingParty } from '../lib/rp.js';
import { launch, checkPage } from '../lib/browser.js';

let server, rp, browser;

before(async () => {
  // Passkeys need a domain name: the server's public URL is http://localhost:PORT.
  server = await startServer({ localhost: true });
  rp = await startRelyingParty({
    issuer: server.base,
    register: (redirectUri) => createClient(server, { name: 'Demo app', redirectUri, scopes: ['openid', 'profile', 'email'] }),
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await rp?.stop();
  await server?.stop();
});

// A page whose browser has a platform authenticator that keeps discoverable credentials and
// verifies the user (as a phone's or laptop's screen lock does).
async function pageWithAuthenticator(options = {}) {
  const context = await browser.newContext({ bypassCSP: true, locale: 'en-GB', ...options });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const credentials = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
  return { context, page, credentials };
}

test('a passkey added on the account page signs in to an application without a password', async () => {
  const { context, page, credentials } = await pageWithAuthenticator();
  // Sign up through the application, then open the account center's security section.
  await page.goto(`${rp.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await checkPage(page, 'passkeys-signin');
  assert.equal(await page.getByLabel('Email').getAttribute('autocomplete'), 'username webauthn');
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill('pia@example.com');
  await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForSelector('#signed-in');

  await page.goto(`${server.base}/account/security`);
  await page.getByRole('heading', { name: 'Passkeys' }).waitFor();
  assert.match(await page.locator('#passkeys').textContent(), /You have no passkey yet/);
  await checkPage(page, 'passkeys-account-empty');
  await page.getByLabel('Name of the new passkey (optional)').fill('Work laptop');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.waitForURL(/done=passkey_added/);
  assert.match(await page.locator('[role=status]').first().textContent(), /Your passkey is added/);
  assert.match(await page.locator('#passkeys').textContent(), /Work laptop/);
  assert.match(await page.locator('#passkeys').textContent(), /not used yet/);
  const stored = await credentials();
  assert.equal(stored.length, 1);
  assert.equal(stored[0].isResidentCredential, true, 'a discoverable credential');
  await checkPage(page, 'passkeys-account-added');

  // Sign out, then sign in to the application with the passkey alone: the browser offers it
  // in the email field's suggestions (autofill), where the virtual authenticator picks the
  // only one, as a person would.
  const signOut = async () => {
    await page.goto(`${server.base}/account/security`);
    await page.getByRole('button', { name: 'Sign out' }).first().click();
    await page.waitForURL((url) => !url.pathname.startsWith('/account'));
  };
  await signOut();
  await page.goto(`${rp.base}/login`);
  await page.waitForSelector('#signed-in');
  let claims = rp.lastClaims();
  assert.equal(claims.email, 'pia@example.com');
  assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa']);

  // A browser without passkey autofill: the button.
  await signOut();
  await page.addInitScript(() => {
    window.PublicKeyCredential.isConditionalMediationAvailable = async () => false;
  });
  await page.goto(`${rp.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  const button = page.getByRole('button', { name: 'Sign in with a passkey' });
  await button.waitFor();
  await checkPage(page, 'passkeys-signin-button');
  await Promise.all([page.waitForSelector('#signed-in'), button.click()]);
  claims = rp.lastClaims();
  assert.equal(claims.email, 'pia@example.com');
  assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa']);

  // The passkey is a second factor too: after the password, /mfa asks for it (its button only,
  // no autofill), and the ID token says both.
  await signOut();
  await page.goto(`${rp.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await page.getByLabel('Email').fill('pia@example.com');
  await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL(/\/mfa\?tx=/);
  const usePasskey = page.getByRole('button', { name: 'Use my passkey' });
  await usePasskey.waitFor();
  await checkPage(page, 'passkeys-second-factor');
  await Promise.all([page.waitForSelector('#signed-in'), usePasskey.click()]);
  claims = rp.lastClaims();
  assert.deepEqual(claims.amr, ['pwd', 'hwk', 'mfa']);
  assert.equal(claims.acr, 'urn:accrete:acr:mfa');

  // The account page shows its last use; it is renamed, then removed (a fresh sign-in).
  await page.goto(`${server.base}/account/security`);
  assert.doesNotMatch(await page.locator('#passkeys').textContent(), /not used yet/);
  await page.locator('#passkeys summary').click();
  await page.getByLabel('Name', { exact: true }).fill('Old laptop');
  await page.getByRole('button', { name: 'Save name' }).click();
  await page.waitForURL(/done=passkey_renamed/);
  assert.match(await page.locator('#passkeys').textContent(), /Old laptop/);
  await page.getByRole('button', { name: 'Remove the passkey Old laptop' }).click();
  await page.waitForURL(/done=passkey_removed/);
  assert.match(await page.locator('#passkeys').textContent(), /You have no passkey yet/);
  await context.close();
});

test('a browser with no passkey for this site gets a sentence, and the password still works', async () => {
  const { context, page } = await pageWithAuthenticator();
  // This browser's authenticator holds no credential of this site: the browser says so.
  await page.goto(`${rp.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  const status = page.locator('.passkey-signin [role=alert]');
  await status.waitFor();
  assert.match(await status.textContent(), /cancelled or took too long|went wrong/);
  await checkPage(page, 'passkeys-signin-refused');
  await page.getByLabel('Email').fill('pia@example.com');
  await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForSelector('#signed-in');
  assert.deepEqual(rp.lastClaims().amr, ['pwd']);
  await context.close();
});

test('the passkeys section speaks French', async () => {
  const { context, page } = await pageWithAuthenticator({ locale: 'fr-FR' });
  await page.goto(`${rp.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await page.getByRole('button', { name: 'Se connecter avec une clé d’accès' }).waitFor();
  await page.getByLabel('E-mail').fill('pia@example.com');
  await page.getByLabel('Mot de passe', { exact: true }).fill('correct horse battery');
  await page.getByRole('button', { name: 'Se connecter', exact: true }).click();
  await page.waitForSelector('#signed-in');
  await page.goto(`${server.base}/account/security`);
  await page.getByRole('heading', { name: 'Clés d’accès' }).waitFor();
  assert.match(await page.locator('#passkeys').textContent(), /Vous n’avez pas encore de clé d’accès/);
  await checkPage(page, 'passkeys-account-fr');
  await context.close();
});
