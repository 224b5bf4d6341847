import { existsSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import type { FakeGitHub } from "./fake-github.js";

/** Debian's chromium package: Playwright drives it as installed, no downloaded browser. */
export const CHROMIUM = process.env.BERTH_TEST_CHROMIUM ?? "/usr/bin/chromium";

/** Why the browser tests cannot run here, or undefined when they can. */
export const noBrowser: string | undefined = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing: install Debian's chromium (scripts/deps.sh --test does)`;

/** Headless chromium; --no-sandbox because the tests run as root, where chromium's sandbox refuses to start. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

/**
 * A browser profile signed in to berth as a GitHub user: the fake GitHub has `login` signed in, and the
 * browser goes through berth's front page, "Log in with GitHub", GitHub's authorize redirect and the callback.
 */
export async function signIn(browser: Browser, github: FakeGitHub, berthUrl: string, login: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ baseURL: berthUrl });
  const page = await context.newPage();
  github.people.signedIn = login;
  await page.goto("/");
  await page.click("#login-github");
  await page.waitForURL(`${berthUrl}/`);
  await page.locator("nav .me", { hasText: login }).waitFor();
  return { context, page };
}
