// Signing in through an upstream provider, in a real browser: oidc-provider (the certified Node
// OpenID Provider, lib/upstream.js) is the upstream, created as the connection `upstream` with
// the CLI; the relying party is openid-client. The sign-up step asks the first name and the
// company: the provider gives the first name, so only the company is asked. Then the person
// who cancels at the provider, in English and in French, and the account page's ways to sign in.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { startServer, createClient, createConnection } from '../lib/server.js';
import { startRelyingParty } from '../lib/rp.js';
import { startUpstream, ADA } from '../lib/upstream.js';
import { launch, checkPage } from '../lib/browser.js';

const CONNECTION = 'upstream';
const PROVIDER = 'Node OP';
const APP = 'Demo app';
let server, upstream, rp, browser, signedIn;

before(async () => {
  server = await startServer({
    policy: resolve(import.meta.dirname, '..', 'policies', 'federation.toml'),
    env: { ACCRETE_FEDERATION__ALLOW_LOOPBACK_HTTP: 'true' },
  });
  upstream = await startUpstream({ redirectUri: `${server.base}/login/${CONNECTION}/callback` });
  createConnection(server, {
    name: CONNECTION,
    preset: 'oidc',
    issuer: upstream.issuer,
    clientId: upstream.clientId,
    clientSecret: upstream.clientSecret,
    displayName: PROVIDER,
  });
  rp = await startRelyingParty({
    issuer: server.base,
    register: (redirectUri) => createClient(server, { name: APP, redirectUri, scopes: ['openid', 'profile', 'email'] }),
    scope: 'openid profile email',
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await rp?.stop();
  await upstream?.stop();
  await server?.stop();
});

// A browser context in `locale`; the provider's development pages import a web font, which this
// machine cannot fetch: it is refused at once rather than waited for.
async function newContext(options = {}) {
  const context = await browser.newContext({ bypassCSP: true, locale: 'en-GB', ...options });
  await context.route(/^https:\/\/fonts\.(googleapis|gstatic)\.com\//, (route) => route.abort());
  return context;
}

const atProvider = (url) => url.origin === upstream.issuer && url.pathname.startsWith('/interaction/');

// On oidc-provider's development pages: sign in as ada (any password), then consent.
async function signInAtProvider(page) {
  await page.waitForURL(atProvider);
  await page.locator('input[name=login]').fill(ADA.sub);
  await page.locator('input[name=password]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('heading', { name: 'Authorize' }).waitFor();
  await page.getByRole('button', { name: 'Continue' }).click();
}

// Whether two elements share a line (their boxes overlap vertically) with one width.
async function sideBySide(a, b) {
  const [x, y] = [await a.boundingBox(), await b.boundingBox()];
  return x.y < y.y + y.height && y.y < x.y + x.height && Math.abs(x.width - y.width) < 1;
}

test('a new user signs up through the provider and is asked only what it did not give', async () => {
  const context = await newContext();
  const page = await context.newPage();
  const callbacks = [];
  page.on('request', (request) => {
    if (request.url().includes(`/login/${CONNECTION}/callback`)) callbacks.push(new URL(request.url()));
  });
  await page.goto(`${rp.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  const provider = page.getByRole('link', { name: `Continue with ${PROVIDER}` });
  await provider.waitFor();
  await checkPage(page, 'federation-signin');
  const submit = page.getByRole('button', { name: 'Sign in' });
  const [a, b] = [await provider.boundingBox(), await submit.boundingBox()];
  assert.ok(Math.abs(a.width - b.width) < 1, `the provider button and the password button have one width (${a.width}, ${b.width})`);
  await provider.click();

  await signInAtProvider(page);
  await page.waitForURL((url) => url.pathname === '/prompt');
  const answer = callbacks.at(-1);
  assert.ok(answer.searchParams.get('code'), 'the provider answered with a code');
  assert.equal(answer.searchParams.get('iss'), upstream.issuer, 'the answer carries iss (RFC 9207)');
  await page.getByLabel('Company').waitFor();
  assert.equal(await page.locator('[name=given_name]').count(), 0, 'the first name came from the provider: not asked');
  assert.equal(await page.getByLabel('First name').count(), 0);
  const inputs = await page.locator('form input:not([type=hidden]), form select, form textarea').count();
  assert.equal(inputs, 1, 'only the company is asked');
  await checkPage(page, 'federation-prompt');
  await page.getByLabel('Company').fill('Analytical Engines Ltd');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForSelector('#signed-in');

  const claims = rp.lastClaims();
  assert.equal(claims.given_name, ADA.given_name, 'the first name is the one the provider gave');
  assert.equal(claims.email, ADA.email);
  assert.ok(claims.amr?.includes('fed'), `amr says federated: ${JSON.stringify(claims.amr)}`);
  signedIn = context;
});

test('the next sign-in through the provider asks nothing here; a fresh sign-in is asked of the provider too', async () => {
  assert.ok(signedIn, 'the federated sign-up ran');
  const page = await signedIn.newPage();
  const before = rp.results.length;
  await page.goto(`${rp.base}/login?prompt=login`);
  await page.getByRole('link', { name: `Continue with ${PROVIDER}` }).click();
  // The application asked for a fresh sign-in (prompt=login): the provider's own session does
  // not answer silently, ada signs in there again (her consent is remembered).
  await page.waitForURL((url) => url.origin === new URL(upstream.issuer).origin);
  await page.locator('input[name=login]').fill(ADA.sub);
  await page.locator('input[name=password]').fill('any password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.waitForSelector('#signed-in');
  assert.equal(rp.results.length, before + 1);
  const claims = rp.lastClaims();
  assert.equal(claims.given_name, ADA.given_name);
  assert.ok(claims.amr?.includes('fed'));
  await page.close();
});

test('the sign-up page offers the provider too, its buttons of one width', async () => {
  const context = await newContext();
  const page = await context.newPage();
  await page.goto(`${rp.base}/login`);
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.waitForURL(/\/signup/);
  const provider = page.getByRole('link', { name: `Continue with ${PROVIDER}` });
  await provider.waitFor();
  await checkPage(page, 'federation-signup');
  const [a, b] = [await provider.boundingBox(), await page.getByRole('button', { name: 'Create account' }).boundingBox()];
  assert.ok(Math.abs(a.width - b.width) < 1, `one width (${a.width}, ${b.width})`);
  await context.close();
});

// From the application to the provider, where the person cancels (`[ Cancel ]`: oidc-provider's
// abort, which answers `error=access_denied`), after signing in there when `consent` is set.
async function cancelAtProvider(page, { consent }) {
  await page.waitForURL(atProvider);
  if (consent) {
    await page.locator('input[name=login]').fill(ADA.sub);
    await page.locator('input[name=password]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('heading', { name: 'Authorize' }).waitFor();
  }
  await page.getByRole('link', { name: '[ Cancel ]' }).click();
  await page.waitForURL((url) => url.origin === server.base);
}

test('cancelled at the provider: a plain page with the ways on; back to the application with access_denied', async () => {
  const context = await newContext();
  const page = await context.newPage();
  await page.goto(`${rp.base}/login`);
  await page.getByRole('link', { name: `Continue with ${PROVIDER}` }).click();
  await cancelAtProvider(page, { consent: true });

  const another = page.getByRole('link', { name: 'Try another way to sign in' });
  const back = page.getByRole('button', { name: `Back to ${APP}` });
  await another.waitFor();
  assert.match(await page.textContent('[role=alert]'), new RegExp(`not signed in.*${PROVIDER}`));
  assert.ok(await back.isVisible());
  await checkPage(page, 'federation-error-en');
  assert.ok(await sideBySide(another, back), 'the two ways on are side by side, of one width');

  // Another way: the sign-in page of the same sign-in, and the provider once more.
  await another.click();
  await page.waitForURL(/\/login\?tx=/);
  await page.getByRole('link', { name: `Continue with ${PROVIDER}` }).click();
  await cancelAtProvider(page, { consent: false });
  await back.click();
  await page.waitForSelector('#error');
  assert.equal(await page.textContent('#error'), 'access_denied');
  assert.equal(rp.results.at(-1).error, 'access_denied');
  await context.close();
});

test('cancelled at the provider, in French', async () => {
  const context = await newContext({ locale: 'fr-FR' });
  const page = await context.newPage();
  await page.goto(`${rp.base}/login`);
  await page.getByRole('link', { name: `Continuer avec ${PROVIDER}` }).click();
  await cancelAtProvider(page, { consent: false });

  const another = page.getByRole('link', { name: 'Essayer un autre moyen de connexion' });
  const back = page.getByRole('button', { name: `Retour à ${APP}` });
  await another.waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'fr');
  assert.match(await page.textContent('[role=alert]'), new RegExp(`n’êtes pas connecté.*${PROVIDER}`));
  await checkPage(page, 'federation-error-fr');
  assert.ok(await sideBySide(another, back), 'the two ways on are side by side, of one width');
  await back.click();
  await page.waitForSelector('#error');
  assert.equal(rp.results.at(-1).error, 'access_denied');
  await context.close();
});

test("the account center's security section lists the provider among the ways to sign in, in English and in French", async () => {
  assert.ok(signedIn, 'the federated sign-up ran');
  const page = await signedIn.newPage();
  await page.goto(`${server.base}/account/security`);
  await page.getByRole('heading', { name: 'Ways to sign in' }).waitFor();
  const methods = page.locator('.methods-list');
  assert.match(await methods.textContent(), new RegExp(`${PROVIDER} \\(${ADA.email}\\)`));
  await checkPage(page, 'federation-account-en');

  const french = await newContext({ locale: 'fr-FR', storageState: await signedIn.storageState() });
  const pageFr = await french.newPage();
  await pageFr.goto(`${server.base}/account/security`);
  await pageFr.getByRole('heading', { name: 'Moyens de connexion' }).waitFor();
  assert.match(await pageFr.locator('.methods-list').textContent(), new RegExp(`${PROVIDER} \\(${ADA.email}\\)`));
  await checkPage(pageFr, 'federation-account-fr');
  await french.close();
  await signedIn.close();
});
