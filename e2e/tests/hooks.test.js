// Hooks in a real browser, with the hooks' receiver in Node: an enriched company is not asked
// after the sign-up, a validation hook's message shows next to the field on the prompt page
// (in French too), a post-sign-in hook's denial is a page that leads back to the application
// with access_denied; axe-clean.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startServer, createClient } from '../lib/server.js';
import { startRelyingParty } from '../lib/rp.js';
import { launch, checkPage } from '../lib/browser.js';

const SCOPES = ['openid', 'profile', 'email', 'work'];
const PASSWORD = 'correct horse battery';
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr';
let receiver, calls = [], configDir, server, app, browser;

// The hooks' receiver: a company for acme.example, a refusal of "Nope" (in English and French).
function answer(call) {
  if (call.type === 'enrichment') {
    return call.user.email_domain === 'acme.example' ? { company: { name: 'Acme Corporation' } } : {};
  }
  if (call.type === 'post_sign_in') {
    return call.user.email.startsWith('denied@')
      ? { deny: { message: { en: 'Your subscription has ended.', fr: 'Votre abonnement est terminé.' } } }
      : {};
  }
  if (call.type === 'validation' && call.answers.company === 'Nope') {
    return {
      decision: 'reject',
      errors: { company: { en: 'We do not know this company.', fr: 'Nous ne connaissons pas cette entreprise.' } },
    };
  }
  return { decision: 'accept' };
}

before(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      const call = JSON.parse(body);
      calls.push({ call, signature: req.headers['webhook-signature'] });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer(call)));
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${receiver.address().port}/hook`;
  configDir = mkdtempSync(join(tmpdir(), 'accrete-hooks-'));
  const config = join(configDir, 'accrete.toml');
  writeFileSync(config, `
[webhooks]
allow_private = true
allow_http = true

[[hooks]]
name = "directory"
kind = "enrichment"
url = "${url}"
secret = "${SECRET}"
fields = { company = "company.name" }

[[hooks]]
name = "gate"
kind = "post_sign_in"
url = "${url}"
secret = "${SECRET}"

[[hooks]]
name = "company-check"
kind = "validation"
url = "${url}"
secret = "${SECRET}"
`);
  server = await startServer({
    policy: resolve(import.meta.dirname, '..', 'policies', 'hooks.toml'),
    env: { ACCRETE_CONFIG: config },
  });
  app = await startRelyingParty({
    issuer: server.base,
    register: (redirectUri) => createClient(server, { id: 'app', name: 'Main app', redirectUri, scopes: SCOPES }),
    scope: SCOPES.join(' '),
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await app?.stop();
  await server?.stop();
  await new Promise((r) => (receiver ? receiver.close(r) : r()));
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

// Signs `email` up from the application in a fresh browser context (`locale` its language);
// stops on the prompt page or back at the application.
async function signUp(email, locale = 'en-US') {
  const context = await browser.newContext({ bypassCSP: true, locale });
  const page = await context.newPage();
  await page.goto(`${app.base}/login`);
  await page.waitForURL(/\/login\?tx=/);
  await page.goto(page.url().replace('/login?', '/signup?'));
  await page.locator('input[name=email]').fill(email);
  await page.locator('input[name=password]').fill(PASSWORD);
  await page.locator('button[name=action][value=submit]').click();
  // The prompt page, back at the application, or a page of the authorization (a denial).
  await page.waitForURL((url) => ['/prompt', '/callback'].includes(url.pathname) || url.pathname.startsWith('/authorize'));
  return page;
}

test('an enriched company is not asked after the sign-up', async () => {
  const page = await signUp('ann@acme.example');
  await page.waitForSelector('#signed-in');
  assert.equal(app.lastClaims().company, 'Acme Corporation', 'the ID token carries the enriched company');
  const enrichment = calls.find((c) => c.call.type === 'enrichment' && c.call.user.email === 'ann@acme.example');
  assert.ok(enrichment, 'the enrichment hook was called');
  assert.match(enrichment.signature, /^v1,/);
  await page.context().close();
});

test("the validation hook's message shows next to the field, then a valid answer goes through", async () => {
  const page = await signUp('bob@unknown.example');
  assert.equal(new URL(page.url()).pathname, '/prompt', 'the company is asked: nothing enriched it');
  await page.getByLabel('Company').fill('Nope');
  await page.locator('button[name=action][value=submit]').click();
  const error = page.locator('#f-company-error');
  await error.waitFor();
  assert.match(await error.textContent(), /We do not know this company\./);
  const describedBy = await page.getByLabel('Company').getAttribute('aria-describedby');
  assert.ok(describedBy?.split(' ').includes('f-company-error'), `the field names its error: ${describedBy}`);
  await checkPage(page, 'hooks-validation-refused');
  await page.getByLabel('Company').fill('Initech');
  await page.locator('button[name=action][value=submit]').click();
  await page.waitForSelector('#signed-in');
  await page.context().close();
});

test("the validation hook's message is in French on a French prompt page", async () => {
  const page = await signUp('chloe@unknown.example', 'fr-FR');
  assert.equal(new URL(page.url()).pathname, '/prompt');
  await page.getByLabel('Entreprise').fill('Nope');
  await page.locator('button[name=action][value=submit]').click();
  const error = page.locator('#f-company-error');
  await error.waitFor();
  assert.match(await error.textContent(), /Nous ne connaissons pas cette entreprise\./);
  await checkPage(page, 'hooks-validation-refused-fr');
  await page.context().close();
});

test('a denial by a post-sign-in hook is a page that goes back to the application with access_denied', async () => {
  for (const [locale, title, message] of [
    ['en-US', 'Access denied', 'Your subscription has ended.'],
    ['fr-FR', 'Accès refusé', 'Votre abonnement est terminé.'],
  ]) {
    const page = await signUp(locale === 'en-US' ? 'denied@unknown.example' : 'denied@fr.example', locale);
    await page.getByRole('heading', { name: title }).waitFor();
    assert.match(await page.textContent('body'), new RegExp(message.replace('.', '\\.')));
    await checkPage(page, `hooks-denied-${locale}`);
    await page.locator('a.button.primary').click();
    await page.waitForSelector('#error');
    assert.equal(await page.textContent('#error'), 'access_denied');
    await page.context().close();
  }
});
