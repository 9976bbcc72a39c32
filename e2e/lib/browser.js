// Debian's chromium driven by playwright-core, plus axe-core accessibility checks and screenshots.
import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const artifacts = resolve(import.meta.dirname, '..', 'artifacts');

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

// Screenshots the page under `name` and fails on serious or critical axe violations (with
// AXE_DEBUG=1 in the environment, naming the offending elements).
export async function checkPage(page, name) {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  // The CSP forbids inline scripts of the page, not scripts added by the test driver.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (serious.length) {
    throw new Error(`${name}: accessibility violations: ${serious.map((v) => `${v.id} (${v.nodes.length}${process.env.AXE_DEBUG ? ': ' + v.nodes.map((n) => n.html).join(' | ') : ''})`).join(', ')}`);
  }
}
