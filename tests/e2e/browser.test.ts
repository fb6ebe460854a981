/**
 * A person in a real browser (Debian's chromium, driven by playwright-core) against the whole stack
 * — nats-server, the four services, the Slack sandbox — with the offline brain, once with Slack
 * reaching the gateway over HTTP and once over Socket Mode.
 *
 * `MLLEAD_SCREENSHOTS=docs pnpm vitest run tests/e2e/browser.test.ts` also writes the README's
 * screenshots (docs/plan.png, docs/details.png, docs/plot.png, docs/app-home.png), from the Socket
 * Mode run; without the variable nothing is written.
 */
import { describe, expect, it } from "vitest";
import { openBrowser, screenshot } from "../helpers/browser.js";
import { startStack } from "../helpers/stack.js";

const ASK = "@mllead train a baseline on the churn table";
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe.each(["http", "socket"] as const)("a person in a browser, Slack over %s", (mode) => {
  it(`${mode}: mentions @mllead, reads the plan and its Details, approves, sees the summary with the plot, opens App Home`, async () => {
    // The browser first: a machine without chromium fails at once, saying how to install it.
    await using browser = await openBrowser();
    await using stack = await startStack({}, { slack: mode });
    const { sandbox } = stack;
    const { page } = browser;
    const shots = mode === "socket";

    await page.goto(sandbox.url);
    await expect.poll(() => page.locator("#conn").textContent()).toContain(mode === "socket" ? "Socket Mode" : "HTTP");

    // 1. The mention, typed into the channel's box.
    await page.locator("#send-main input[name=text]").fill(ASK);
    await page.locator("#send-main input[name=text]").press("Enter");
    const asked = page.locator("#messages .msg", { hasText: "train a baseline on the churn table" });
    await asked.locator("[data-thread]").first().click();

    // 2. The plan in the thread: summary, steps with roles, the buttons.
    const plan = page.locator("#thread .msg", { hasText: "Plan · revision 1" });
    await plan.waitFor({ timeout: 60_000 });
    for (const role of ["data-engineer", "ml-engineer", "analyst", "code-reviewer"])
      await expect.poll(() => plan.textContent()).toContain(role);
    await expect
      .poll(() => plan.locator("button").allTextContents())
      .toEqual(["Approve", "Request changes", "Details", "Cancel"]);
    await page.locator("#thread").evaluate((el) => {
      el.scrollTop = 0;
    });
    if (shots) await screenshot(plan, "plan");

    // 3. Details: a modal with each step's handoff.
    await plan.getByRole("button", { name: "Details" }).click();
    const modal = page.locator("#modal .dialog");
    await modal.waitFor({ timeout: 20_000 });
    for (const part of ["Objective", "Acceptance criteria", "Next handoff", "Risks"])
      await expect.poll(() => modal.textContent()).toContain(part);
    // The picture shows a whole handoff: the modal scrolled to the first step (the summary is on the plan).
    await modal.evaluate((el) => {
      const body = el.querySelector(".body");
      const firstStep = body?.querySelector("hr");
      if (body && firstStep) body.scrollTop += firstStep.getBoundingClientRect().top - body.getBoundingClientRect().top - 4;
    });
    if (shots) await screenshot(modal, "details", 0);
    await modal.locator("[data-view-cancel]").click();
    await modal.waitFor({ state: "hidden", timeout: 10_000 });

    // 4. Approve; the steps run; the summary closes the thread.
    await plan.getByRole("button", { name: "Approve" }).click();
    const summary = page.locator("#thread .msg", { hasText: "Done — summary" });
    await summary.waitFor({ timeout: 180_000 });

    // 5. The loss curve is in the thread as an uploaded PNG that the browser actually loaded.
    const uploads = sandbox.files().filter((f) => f.mimetype === "image/png");
    expect(uploads.length).toBeGreaterThan(0);
    for (const f of uploads) expect(f.bytes.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    const plot = page.locator("#thread figure img").first();
    await plot.scrollIntoViewIfNeeded();
    await expect
      .poll(
        () =>
          plot.evaluate((el) => {
            // The page's <img>: loaded, and decoded to a real width.
            const img = el as unknown as { complete: boolean; naturalWidth: number };
            return img.complete ? img.naturalWidth : 0;
          }),
        { timeout: 20_000 },
      )
      .toBeGreaterThan(0);
    expect(await plot.getAttribute("src")).toContain(`/files/${uploads[0]?.id}/`);
    if (shots) await screenshot(page.locator("#thread .msg", { has: page.locator("figure img") }).first(), "plot");

    // 6. App Home: the person's tasks, with this one done.
    await page.locator("#home-link").click();
    const home = page.locator("#messages");
    await expect.poll(() => home.textContent(), { timeout: 20_000 }).toContain("your ML team's tech lead");
    await expect.poll(() => home.textContent()).toContain("churn");
    if (shots) await screenshot(page.locator("#messages .home-view"), "app-home");

    // Slack's payloads took the road the mode says, and only that one.
    const envelopes = sandbox.socketMode.envelopes();
    if (mode === "socket") {
      expect(new Set(envelopes.map((e) => e.type))).toEqual(new Set(["events_api", "interactive"]));
      expect(envelopes.every((e) => e.ack !== undefined)).toBe(true);
    } else {
      expect(envelopes).toEqual([]);
    }
  }, 300_000);
});
