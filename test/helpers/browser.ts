// Headless Chromium for browser tests: Debian's chromium driven by playwright-core, with the
// flags DESIGN.md found to work here and a fresh profile per launch.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = process.env.ALIGNRUN_CHROMIUM ?? '/usr/bin/chromium';

/** Why browser tests must be skipped here, or undefined when Chromium is available. */
export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  return `${CHROMIUM_PATH} is absent: install it with 'apt-get install -y chromium' (or set ALIGNRUN_CHROMIUM) to run browser tests.`;
}

export interface LaunchedBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Playwright refuses --user-data-dir in args, so the fresh profile goes through launchPersistentContext. */
export async function launchChromium(): Promise<LaunchedBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'alignrun-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
