// Drive one page in headless Chromium (Debian's /usr/bin/chromium) through playwright-core, step
// by step, and print what the steps read as JSON. Steps come as JSON on stdin, so that values
// typed into the page (test secrets) never appear in a process list. Used by page_driver.py.
//
// Steps: {"goto": url} | {"reload": true} | {"wait": selector} | {"fill": [selector, value]}
//        {"check": [selector, bool]} | {"click": selector} | {"text": selector} | {"attr": [selector, name]}
//        {"value": selector} | {"visible": selector} | {"html": true} | {"screenshot": path}
//        {"fill_secret": [selector, label]}: types the value the caller passed as secrets[label]
// Input: {"steps": [...], "secrets": {label: value}}
// Output: {"results": [...one entry per reading step...], "console": [...page errors...],
//          "http_errors": [[status, method, path], ...]} (answers of 400 and more the page got)
import { readFileSync } from 'node:fs';

const { chromium } = await import(process.env.PLAYWRIGHT_CORE);
const { steps, secrets } = JSON.parse(readFileSync(0, 'utf8'));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
});
const results = [];
const consoleErrors = [];
const httpErrors = [];
try {
  const page = await browser.newPage();
  page.setDefaultTimeout(Number(process.env.STEP_TIMEOUT_MS || 20000));
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  page.on('console', (message) => {
    // a failed request is reported below with its address, not as this console line
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) consoleErrors.push(message.text());
  });
  page.on('response', (response) => {
    if (response.status() >= 400) {
      httpErrors.push([response.status(), response.request().method(), new URL(response.url()).pathname]);
    }
  });
  for (const step of steps) {
    if (step.goto) await page.goto(step.goto);
    else if (step.reload) await page.reload();
    else if (step.wait) await page.waitForSelector(step.wait);
    else if (step.fill) await page.fill(step.fill[0], step.fill[1]);
    else if (step.fill_secret) await page.fill(step.fill_secret[0], secrets[step.fill_secret[1]]);
    else if (step.check) await page.setChecked(step.check[0], step.check[1]);
    else if (step.click) await page.click(step.click);
    else if (step.text) results.push(await page.textContent(step.text));
    else if (step.attr) results.push(await page.getAttribute(step.attr[0], step.attr[1]));
    else if (step.value) results.push(await page.inputValue(step.value));
    else if (step.visible) results.push(await page.isVisible(step.visible));
    else if (step.html) results.push(await page.content());
    else if (step.screenshot) await page.screenshot({ path: step.screenshot, fullPage: true });
    else throw new Error('unknown step ' + JSON.stringify(Object.keys(step)));
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify({ results, console: consoleErrors, http_errors: httpErrors }));
