// An administrator's whole story in the console (issue 21, docs/console.md): sign in as owner,
// create a field (checked as it is typed), add it to a new optional step for the third sign-in,
// simulate it for a user, see the impact preview, publish; the user's real third sign-in
// through a relying party asks it; the overview's funnel shows it shown and answered; the
// user's page shows the value with its source `prompt:job`; roll back. A viewer cannot change
// anything (no buttons, and the server refuses). The audit log has each change. axe-core and a
// screenshot of every page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { startServer, createClient } from '../lib/server.js';
import { startRelyingParty } from '../lib/rp.js';
import { launch, checkPage } from '../lib/browser.js';
import * as shared from '../lib/console.js';

const { PASSWORD } = shared;
let server, app, browser;

before(async () => {
  server = await startServer({ policy: resolve(import.meta.dirname, '..', 'policies', 'console.toml') });
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

const newPage = (options) => shared.newPage(browser, options);
const signUp = (page, email) => shared.signUp(server, page, email);
const setupLink = () => shared.setupLink(server);

// A sign-in with the password through the relying party (a fresh browser: no single sign-on).
async function signInToApp(email) {
  const page = await newPage();
  await page.goto(`${app.base}/login`);
  await page.locator('#f-email').fill(email);
  await page.locator('#f-password').fill(PASSWORD);
  await page.locator('#f-password').press('Enter');
  return page;
}

test('an administrator adds a step for the third sign-in, users are asked it, and it is rolled back', async () => {
  const sam = await newPage();
  await signUp(sam, 'sam@example.com');
  await sam.context().close();

  const page = await newPage();
  await signUp(page, 'ada@example.com');
  await page.goto(await setupLink());
  await page.getByRole('heading', { name: 'Overview' }).waitFor();

  // The policy in force: version 1, its one field.
  await page.getByRole('navigation', { name: 'Accrete console' }).getByRole('link', { name: 'Policy' }).click();
  await page.getByRole('heading', { name: 'Policy', level: 1 }).waitFor();
  assert.match(await page.locator('main').textContent(), /Version 1 is in force/);
  await checkPage(page, 'console-policy');

  // A new field: a wrong key is said on its input as it is typed, before sending.
  await page.getByRole('link', { name: 'New field' }).click();
  await page.getByLabel('Key', { exact: true }).fill('Job Title');
  const keyError = page.locator('#f-key-error');
  await keyError.waitFor({ state: 'visible' });
  assert.match(await keyError.textContent(), /\S/);
  await checkPage(page, 'console-policy-field-error');
  await page.getByLabel('Key', { exact: true }).fill('job_title');
  await keyError.waitFor({ state: 'hidden' });
  await page.getByLabel('Label (English)').fill('Job title');
  await page.getByLabel('Label (French)').fill('Intitulé du poste');
  await checkPage(page, 'console-policy-field');
  await page.getByRole('button', { name: 'Save in the draft' }).click();
  assert.match(await page.locator('[role=status]').textContent(), /Saved in the draft: job_title/);

  // A new optional step for the third sign-in.
  await page.getByRole('link', { name: 'New step' }).click();
  await page.getByLabel('Identifier').fill('job');
  await page.getByLabel('Title (English)').fill('Your job');
  await page.getByLabel('Title (French)').fill('Votre métier');
  await page.getByLabel('Job title (job_title)').check();
  await page.getByLabel('Sign-in count').selectOption('exactly');
  await page.getByLabel('Number of sign-ins').fill('3');
  await checkPage(page, 'console-policy-step');
  await page.getByRole('button', { name: 'Save in the draft' }).click();
  assert.match(await page.locator('[role=status]').textContent(), /Saved in the draft: job/);
  assert.match(await page.locator('.draft-box').textContent(), /New step job/);
  await checkPage(page, 'console-policy-draft');

  // The simulator: Sam's next sign-in is his second (nothing asked); on his third, the step.
  await page.getByRole('link', { name: 'Simulator' }).click();
  await page.getByRole('combobox', { name: 'Policy' }).selectOption('draft');
  await page.getByLabel("User's email address").fill('sam@example.com');
  await page.getByRole('button', { name: 'Simulate' }).click();
  await page.getByRole('heading', { name: 'Decision' }).waitFor();
  assert.match(await page.locator('.result').textContent(), /Nothing would be asked/);
  const facts = page.getByLabel('Facts (JSON)');
  await facts.fill((await facts.inputValue()).replace('"credentialed_logins": 2', '"credentialed_logins": 3'));
  await page.getByRole('button', { name: 'Simulate' }).click();
  await page.getByText('The user would be asked step job').waitFor();
  await checkPage(page, 'console-policy-simulate');

  // The impact preview: at their next sign-in, nobody is on their third yet.
  await page.getByRole('link', { name: 'Impact' }).click();
  await page.getByRole('button', { name: 'Count' }).click();
  assert.match(await page.locator('main').textContent(), /Of 2 users/);
  assert.equal(await page.locator('table.figures tbody tr', { hasText: 'job' }).count(), 1);
  await checkPage(page, 'console-policy-impact');

  // The difference, then publishing once confirmed.
  await page.getByRole('link', { name: 'Changes and publishing' }).click();
  assert.match(await page.locator('.diff').textContent(), /job_title/);
  await page.getByLabel('Note').fill('Ask for the job on the third sign-in');
  await page.getByLabel('I understand').check();
  await checkPage(page, 'console-policy-diff');
  await page.getByRole('button', { name: 'Publish' }).click();
  assert.match(await page.locator('[role=status]').textContent(), /Version 2 is now in force/);

  // Sam's second sign-in asks nothing; his third asks the job, and he answers it.
  const second = await signInToApp('sam@example.com');
  await second.waitForSelector('#signed-in');
  await second.context().close();
  const third = await signInToApp('sam@example.com');
  await third.getByRole('heading', { name: 'Your job' }).waitFor();
  await third.getByLabel('Job title').fill('Engineer');
  await third.getByRole('button', { name: 'Continue' }).click();
  await third.waitForSelector('#signed-in');
  await third.context().close();

  // The funnel shows the step shown once and answered once.
  await page.getByRole('link', { name: 'Overview' }).click();
  const row = page.getByRole('row', { name: /^job \d/ });
  assert.match(await row.textContent(), /job\s*1\s*1\s*0\s*0/);

  // Sam's page: the value, from the prompt.
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByLabel('Email address').fill('sam@example.com');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name: 'sam@example.com' }).click();
  const main = await page.locator('main').textContent();
  assert.match(main, /Engineer/);
  assert.match(main, /prompt:job/);

  // A viewer reads the policy and cannot change it: no button, and the server refuses.
  const bob = await newPage();
  await signUp(bob, 'bob@example.com');
  await page.getByRole('link', { name: 'Administrators' }).click();
  await page.getByLabel('Email').fill('bob@example.com');
  await page.getByLabel('Role', { exact: true }).selectOption('viewer');
  await page.getByRole('button', { name: 'Give the role' }).click();
  await bob.goto(`${server.base}/admin/policy/steps/job`);
  await bob.getByRole('heading', { name: 'Step job' }).waitFor();
  assert.equal(await bob.getByRole('button', { name: 'Save in the draft' }).count(), 0);
  assert.equal(await bob.getByRole('link', { name: 'New field' }).count(), 0);
  assert.ok(await bob.getByLabel('Identifier').isDisabled());
  await checkPage(bob, 'console-policy-step-viewer');
  const csrf = await bob.locator('input[name=csrf]').first().inputValue();
  const refused = await bob.request.post(`${server.base}/admin/policy/publish`, {
    form: { csrf, confirm: 'yes' },
  });
  assert.equal(refused.status(), 403);
  await bob.context().close();

  // Roll back to version 1, once confirmed.
  await page.getByRole('link', { name: 'Policy' }).click();
  await page.getByRole('link', { name: 'Versions' }).click();
  await page.getByLabel('Put version 1 back in force').check();
  await checkPage(page, 'console-policy-history');
  await page.getByRole('row', { name: /^1/ }).getByRole('button', { name: 'Publish again' }).click();
  assert.match(await page.locator('[role=status]').textContent(), /Version 3 is now in force/);
  assert.equal(await page.locator('table.figures', { hasText: 'job' }).count(), 0);

  // The source of what is in force, and the audit log of each change.
  await page.getByRole('link', { name: 'Source' }).click();
  assert.match(await page.getByLabel('Policy document').inputValue(), /nickname/);
  await checkPage(page, 'console-policy-source');
  await page.getByRole('link', { name: 'Audit log' }).click();
  const log = await page.locator('table.audit').textContent();
  for (const action of ['policy.draft_saved', 'policy.published', 'policy.rolled_back']) {
    assert.match(log, new RegExp(action.replace('.', '\\.')));
  }
  await page.context().close();
});

test('the policy pages speak French', async () => {
  const page = await newPage({ locale: 'fr-FR' });
  await page.goto(`${server.base}/login`);
  await page.locator('#f-email').fill('ada@example.com');
  await page.locator('#f-password').fill(PASSWORD);
  await page.locator('#f-password').press('Enter');
  await page.waitForURL(/\/account/);
  await page.goto(`${server.base}/admin/policy/fields/nickname`);
  await page.getByRole('heading', { name: 'Champ nickname' }).waitFor();
  await checkPage(page, 'console-policy-field-fr');
  await page.goto(`${server.base}/admin/policy/steps/new`);
  await checkPage(page, 'console-policy-step-fr');
  await page.context().close();
});
