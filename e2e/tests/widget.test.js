// Issue 6 in a real browser: the demo application (examples/widget-demo, served from its own
// origin under a strict CSP) fires `cta:pricing` with the signed-in user's access token, the
// widget asks the company size, the answer is stored, and a second click asks nothing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { startServer, createClient } from '../lib/server.js';
import { startRelyingParty } from '../lib/rp.js';
import { launch, checkPage } from '../lib/browser.js';

const DEMO = resolve(import.meta.dirname, '..', '..', 'examples', 'widget-demo');
const PASSWORD = 'correct horse battery';
let server, app, demo, stranger, browser, adminToken;

// --------------------------------------------------------------- helpers

// Serves the demo folder like any static host, with a CSP that allows scripts and API calls
// only from the page itself and the Accrete server (no inline script or style anywhere).
async function serveDemo(accrete) {
  const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
  const csp = `default-src 'none'; script-src 'self' ${accrete}; connect-src ${accrete}; style-src 'self'; base-uri 'none'; form-action 'none'`;
  const listener = http.createServer(async (req, res) => {
    const name = new URL(req.url, 'http://demo').pathname.replace(/^\/$/, '/index.html').slice(1);
    if (!/^[a-z-]+\.(html|js|css)$/.test(name)) return res.writeHead(404).end();
    try {
      const body = await readFile(join(DEMO, name));
      res.writeHead(200, { 'content-type': types[extname(name)], 'content-security-policy': csp }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => listener.listen(0, '127.0.0.1', r));
  return { origin: `http://127.0.0.1:${listener.address().port}`, stop: () => new Promise((r) => listener.close(r)) };
}

async function api(method, path, { token = adminToken, body } = {}) {
  const response = await fetch(`${server.base}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// A back end holding the management scopes, through the client-credentials grant.
async function managementToken() {
  const { client_id: id, client_secret: secret } = JSON.parse(server.admin(
    'client', 'create', '--name', 'Back office', '--grant', 'client_credentials',
    '--scope', 'clients:read clients:write users:read users:write', '--json',
  ));
  const discovery = await (await fetch(`${server.base}/.well-known/openid-configuration`)).json();
  const response = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'clients:read clients:write users:read users:write' }),
  });
  const tokens = await response.json();
  assert.ok(response.ok, JSON.stringify(tokens));
  return tokens.access_token;
}

// Signs `email` in to the application in a fresh browser context and returns its page and the
// user's access token (from the relying party's token response).
async function signedIn(email) {
  const user = await api('POST', '/users', { body: { email, password: PASSWORD, email_verified: true } });
  const context = await browser.newContext({ locale: 'en-US' });
  const page = await context.newPage();
  await page.goto(`${app.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('#signed-in');
  assert.equal(app.lastClaims().sub, user.id);
  return { page, userId: user.id, token: app.lastTokens().access_token };
}

const openDemo = (page, token, { origin = demo.origin, inline = false } = {}) =>
  page.goto(`${origin}/?${new URLSearchParams({ accrete: server.base, token, ...(inline ? { inline: '1' } : {}) })}`);

// Clicks "See pricing"; `outcome` then waits for this click's result (the demo clears the last one).
async function seePricing(page) {
  await page.getByRole('button', { name: 'See pricing' }).click();
}
const outcome = async (page) => {
  await page.waitForSelector('#status[data-outcome]');
  return page.getAttribute('#status', 'data-outcome');
};

const companySize = async (userId) => (await api('GET', `/users/${userId}`)).app_metadata?.company_size;

// --------------------------------------------------------------- set-up

before(async () => {
  server = await startServer({ policy: resolve(import.meta.dirname, '..', 'policies', 'stories.toml') });
  adminToken = await managementToken();
  demo = await serveDemo(server.base);
  stranger = await serveDemo(server.base); // the same page from an origin nobody registered
  app = await startRelyingParty({
    issuer: server.base,
    register: (redirectUri) => createClient(server, { id: 'app', name: 'Acme Analytics', redirectUri }),
  });
  // The widget calls /api/v1/me across origins: register the demo's origin on the application,
  // as examples/widget-demo/README.md tells (read, then replace the settings).
  const { id, created_at, updated_at, ...settings } = await api('GET', '/clients/app');
  await api('PUT', '/clients/app', { body: { ...settings, allowed_origins: [demo.origin] } });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await app?.stop();
  await demo?.stop();
  await stranger?.stop();
  await server?.stop();
});

// --------------------------------------------------------------- tests

test('"See pricing" asks the company size in a dialog; the answer is stored and a second click asks nothing', async () => {
  const { page, userId, token } = await signedIn('grace@example.com');
  await openDemo(page, token);
  assert.equal(await companySize(userId), undefined, 'nothing known before');

  // Escape closes the optional step without an answer; the next click asks again.
  await seePricing(page);
  const dialog = page.getByRole('dialog', { name: 'Help us tailor our offer' });
  await dialog.getByLabel('Company size').waitFor();
  await page.keyboard.press('Escape');
  assert.equal(await outcome(page), 'dismissed');
  assert.equal(await page.locator('dialog').count(), 0, 'the dialog is gone');
  assert.equal(await companySize(userId), undefined, 'a dismissal stores nothing');

  await seePricing(page);
  const select = dialog.getByLabel('Company size');
  await select.waitFor();
  assert.ok(await select.evaluate((e) => e === document.activeElement), 'the field has the focus');
  assert.deepEqual(
    await select.locator('option').allTextContents(),
    ['', '1 to 10 people', '11 to 50 people', '51 to 500 people', 'More than 500 people'],
  );
  await checkPage(page, 'widget-company-size');
  await select.selectOption('11-50');
  await dialog.getByRole('button', { name: 'Continue' }).click();
  assert.equal(await outcome(page), 'answered');
  assert.equal(await page.locator('dialog').count(), 0, 'the dialog is gone');
  assert.match(await page.textContent('#status'), /step pricing/);

  // Stored in app metadata, as the policy says, and shown (read-only) to the user.
  assert.equal(await companySize(userId), '11-50');
  const me = await api('GET', '/me', { token });
  const field = me.fields.find((f) => f.key === 'company_size');
  assert.equal(field?.value, '11-50');
  assert.equal(field.editable, false);

  await seePricing(page);
  assert.equal(await outcome(page), 'none');
  assert.equal(await page.locator('dialog, .accrete-form').count(), 0, 'nothing is asked');
  assert.match(await page.textContent('#status'), /Nothing to ask/);
  await page.context().close();
});

test('inline, an empty answer is refused next to the field, then a choice is stored', async () => {
  const { page, userId, token } = await signedIn('katherine@example.com');
  await openDemo(page, token, { inline: true });
  await seePricing(page);
  const form = page.locator('#prompt-area form.accrete-form');
  const select = form.getByLabel('Company size');
  await select.waitFor();
  assert.equal(await page.locator('dialog').count(), 0, 'inline: no dialog');

  await form.getByRole('button', { name: 'Continue' }).click();
  await page.waitForSelector('#prompt-area select[aria-invalid="true"]');
  const errorId = (await select.getAttribute('aria-describedby')).split(' ').at(-1);
  const error = page.locator(`[id="${errorId}"]`);
  assert.ok(await error.isVisible(), 'the error is shown');
  assert.notEqual((await error.textContent()).trim(), '', 'the error says something');
  assert.equal(await page.getAttribute('#status', 'data-outcome'), null, 'still asking');
  assert.ok(await select.evaluate((e) => e === document.activeElement), 'the refused field has the focus');
  assert.equal(await companySize(userId), undefined, 'nothing stored');
  await checkPage(page, 'widget-company-size-error');

  await select.selectOption('500+');
  await form.getByRole('button', { name: 'Continue' }).click();
  assert.equal(await outcome(page), 'answered');
  assert.equal(await form.count(), 0, 'the form is gone');
  assert.equal(await companySize(userId), '500+');

  await seePricing(page);
  assert.equal(await outcome(page), 'none');
  assert.equal(await page.locator('.accrete-form').count(), 0);
  await page.context().close();
});

test('from an origin the application did not register, the browser gets no answer and nothing is asked', async () => {
  const { page, token } = await signedIn('dorothy@example.com');
  await openDemo(page, token, { origin: stranger.origin });
  await seePricing(page);
  assert.equal(await outcome(page), 'error');
  assert.equal(await page.locator('dialog, .accrete-form').count(), 0);
  // The same token from the registered origin is asked: only CORS stood in the way.
  await openDemo(page, token);
  await seePricing(page);
  await page.getByRole('dialog').getByLabel('Company size').waitFor();
  await page.context().close();
});
