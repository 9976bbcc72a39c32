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
// `options` go to axe.run: `{ iframes: false }` for a page whose frames run no script (the
// console's sandboxed previews), which axe would otherwise wait for.
export async function checkPage(page, name, options = {}) {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  // The CSP forbids inline scripts of the page, not scripts added by the test driver.
  await page.evaluate(axeSource);
  const result = await page.evaluate((extra) => globalThis.axe.run(document, { resultTypes: ['violations'], ...extra }), options);
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (serious.length) {
    throw new Error(`${name}: accessibility violations: ${serious.map((v) => `${v.id} (${v.nodes.length}${process.env.AXE_DEBUG ? ': ' + v.nodes.map((n) => n.html).join(' | ') : ''})`).join(', ')}`);
  }
}

const jsQRSource = readFileSync(require.resolve('jsqr/dist/jsQR.js'), 'utf8');

// The text of the QR code that `locator` shows, read from its pixels on the screen (a screenshot
// of the element, decoded with jsQR inside the page) as a phone's camera would; null when no QR
// code can be read there.
export async function readQrCode(locator) {
  const png = await locator.screenshot();
  return locator.page().evaluate(async ({ source, data }) => {
    if (!globalThis.jsQR) (0, eval)(source);
    const image = new Image();
    image.src = `data:image/png;base64,${data}`;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
    return globalThis.jsQR(pixels.data, pixels.width, pixels.height)?.data ?? null;
  }, { source: jsQRSource, data: png.toString('base64') });
}
