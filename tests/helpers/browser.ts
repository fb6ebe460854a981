import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { REPO_ROOT } from "@mllead/tools/services";
import { type BrowserContext, chromium, type Locator, type Page } from "playwright-core";

/** Debian's chromium (`apt-get install -y chromium`); `MLLEAD_CHROMIUM` names another Chromium binary. */
export const CHROMIUM = process.env.MLLEAD_CHROMIUM || "/usr/bin/chromium";

/** The flags the project's machines need: no GPU, no sandbox (root in CI), and nothing that phones home. */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Browser extends AsyncDisposable {
  context: BrowserContext;
  page: Page;
}

/**
 * Starts chromium through playwright-core with a fresh profile. A missing browser fails the test
 * with how to install it: the browser test is never skipped.
 */
export async function openBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The browser test drives Chromium at ${CHROMIUM}, which is missing. Install Debian's chromium: ` +
        "`sudo apt-get install -y chromium` (CI's .ci/run does this), or set MLLEAD_CHROMIUM to a Chromium binary. " +
        "`npx playwright install` is not used.",
    );
  }
  const profile = await mkdtemp(join(tmpdir(), "mllead-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1400, height: 1000 },
      deviceScaleFactor: 1,
      timeout: 60_000,
    });
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    [Symbol.asyncDispose]: async () => {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Where the documentation's screenshots go: the folder `MLLEAD_SCREENSHOTS` names (relative to the
 * repository, e.g. `docs`), or nowhere — so an ordinary test run never rewrites committed files.
 */
export function screenshotDir(): string | undefined {
  const dir = process.env.MLLEAD_SCREENSHOTS;
  return dir ? resolve(REPO_ROOT, dir) : undefined;
}

/**
 * Takes a PNG of `target` with a margin of `pad` pixels around it (always, so the step is exercised)
 * and saves it as `<dir>/<name>.png` when a folder is set.
 */
export async function screenshot(target: Locator, name: string, pad = 12): Promise<Buffer> {
  // The pointer off the page: a message's hover actions would show otherwise.
  await target.page().mouse.move(0, 0);
  await target.scrollIntoViewIfNeeded();
  const box = await target.boundingBox();
  if (!box) throw new Error(`nothing to photograph for ${name}: the element is not visible`);
  // The page does not scroll (its panes do), so the element and its margin are within the viewport.
  const view = target.page().viewportSize() ?? { width: box.x + box.width, height: box.y + box.height };
  const x = Math.max(0, box.x - pad);
  const y = Math.max(0, box.y - pad);
  const clip = {
    x,
    y,
    width: Math.min(view.width, box.x + box.width + pad) - x,
    height: Math.min(view.height, box.y + box.height + pad) - y,
  };
  const png = await target.page().screenshot({ type: "png", animations: "disabled", clip });
  const dir = screenshotDir();
  if (dir) {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${name}.png`), png);
  }
  return png;
}
