// End-to-end test of the local Lodestar platform in a real browser: headless Chromium
// (/usr/bin/chromium, never downloaded) driven by playwright-core. Run by
// tests/python/test_platform_browser.py, which starts the platform and creates the users.
//
// Environment: LS_BASE (http://127.0.0.1:PORT), LS_USER / LS_PASSWORD / LS_PROFILE (the first
// user and the spawn-form profile to pick), LS_OTHER_USER / LS_OTHER_PASSWORD (a second
// user), LS_ARTIFACTS (folder for screenshots and the browser profiles), LS_TIMEOUT_MS.
// Prints one JSON line with what it saw; exits non-zero on the first failed expectation.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`missing environment variable ${name}`);
  return v;
};
const base = env("LS_BASE");
const artifacts = env("LS_ARTIFACTS");
const timeout = Number(process.env.LS_TIMEOUT_MS || 300000);
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync"];
const report = { steps: [] };

function expect(condition, message) {
  if (!condition) throw new Error(`expectation failed: ${message}`);
}

async function browserFor(name) {
  const profile = fs.mkdtempSync(path.join(artifacts, `chromium-${name}-`)); // a fresh --user-data-dir
  return chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
    viewport: { width: 1400, height: 1000 },
  });
}

async function shot(page, name) {
  const file = path.join(artifacts, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  report.steps.push(name);
}

async function login(page, user, password) {
  await page.goto(`${base}/hub/login`);
  await page.fill("#username_input", user);
  await page.fill("#password_input", password);
  await Promise.all([page.waitForNavigation(), page.click("#login_submit")]);
}

async function firstUser() {
  const context = await browserFor("user1");
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(timeout);
  try {
    await login(page, env("LS_USER"), env("LS_PASSWORD"));
    // The spawn options form: resource profiles with CPU, memory and Dask workers.
    await page.waitForSelector("#lodestar-profiles");
    const formText = await page.textContent("#lodestar-profiles");
    expect(/CPU cores/.test(formText) && /Memory/.test(formText) && /Dask workers/.test(formText), "the form lists CPU, memory, Dask workers");
    await page.check(`#profile-${env("LS_PROFILE")}`);
    await shot(page, "01-spawn-form");
    await Promise.all([page.waitForURL(/\/user\/[^/]+\/lab/, { timeout }), page.click("form#spawn_form [type=submit]")]);
    report.lab_url = page.url();

    // JupyterLab 4 renders only the cells in view by default; render them all so the
    // test can read every output (a user setting, stored in the user's own home).
    const user = env("LS_USER");
    const status = await page.evaluate(async (url) => {
      const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]+)/) || [])[1] || "";
      const r = await fetch(url, {
        method: "PUT",
        headers: { "Content-Type": "application/json", "X-XSRFToken": decodeURIComponent(xsrf) },
        body: JSON.stringify({ raw: JSON.stringify({ windowingMode: "none" }) }),
      });
      return r.status;
    }, `${base}/user/${user}/lab/api/settings/@jupyterlab/notebook-extension:tracker`);
    expect(status === 204 || status === 200, `notebook settings saved (${status})`);

    // Open the quick-start notebook the platform copied into the new home, and run all cells
    // once its kernel is idle.
    await page.goto(`${base}/user/${user}/lab/tree/lodestar-examples/01-quick-start.ipynb`);
    // Attached, not visible: a rendered markdown cell (often the first) hides its editor.
    await page.waitForSelector(".jp-NotebookPanel .jp-CodeCell .jp-InputArea-editor", { state: "attached", timeout });
    await page.getByText(/\| Idle/).first().waitFor({ timeout });
    const news = page.locator(".jp-toast-button", { hasText: /^No$/ });
    if (await news.count()) await news.first().click();
    await shot(page, "02-notebook-open");
    await page.locator(".lm-MenuBar-itemLabel", { hasText: /^Run$/ }).click();
    await page.locator(".lm-Menu-itemLabel", { hasText: /^Run All Cells$/ }).click();

    // Done when every code cell has an execution count and none is queued or running, or
    // when a cell failed (Run All stops there).
    await page.waitForFunction(
      () => {
        if (document.querySelector(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")) return true;
        const prompts = [...document.querySelectorAll(".jp-CodeCell .jp-InputArea-prompt")].map((p) => p.textContent.trim());
        return prompts.length > 0 && prompts.every((p) => /^\[\d+\]:$/.test(p));
      },
      null,
      { timeout, polling: 500 },
    );
    const outputs = await page.locator(".jp-OutputArea-output").allTextContents();
    const text = outputs.join("\n");
    const errors = await page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count();
    expect(errors === 0, `no cell failed (saw ${errors} errors):\n${text.slice(-2000)}`);
    const m = text.match(/crossmatch: (\d+) matches/);
    expect(m && Number(m[1]) > 0, `the crossmatch result is shown:\n${text.slice(0, 2000)}`);
    report.crossmatch_matches = Number(m[1]);
    const images = page.locator(".jp-OutputArea-output img");
    expect((await images.count()) >= 1, "the sky map image is shown");
    const size = await images.first().evaluate((img) => [img.naturalWidth, img.naturalHeight]);
    expect(size[0] > 200 && size[1] > 100, `the sky map image has a real size (${size})`);
    report.skymap_size = size;
    await page.locator(".jp-OutputArea-output img").first().scrollIntoViewIfNeeded();
    await shot(page, "03-quick-start-ran");
  } catch (err) {
    await page.screenshot({ path: path.join(artifacts, "failure-user1.png"), fullPage: true }).catch(() => {});
    throw err;
  } finally {
    await context.close();
  }
}

async function secondUser() {
  const context = await browserFor("user2");
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(timeout);
  try {
    await login(page, env("LS_OTHER_USER"), env("LS_OTHER_PASSWORD"));
    const owner = env("LS_USER");
    const response = await page.goto(`${base}/user/${owner}/lab/tree/lodestar-examples`);
    report.other_user_status = response.status();
    const body = await page.textContent("body");
    await shot(page, "04-second-user-refused");
    expect(response.status() === 403 || response.status() === 404, `the second user is refused (status ${response.status()})`);
    expect(!body.includes("01-quick-start"), "the second user sees none of the first user's files");
    const api = await page.goto(`${base}/user/${owner}/api/contents/lodestar-examples`);
    report.other_user_api_status = api.status();
    expect(api.status() === 403 || api.status() === 404, `the first user's contents API refuses the second user (${api.status()})`);
  } finally {
    await context.close();
  }
}

try {
  await firstUser();
  await secondUser();
  report.ok = true;
  console.log(JSON.stringify(report));
} catch (err) {
  report.ok = false;
  report.error = String(err && err.stack ? err.stack : err);
  console.log(JSON.stringify(report));
  process.exitCode = 1;
}
