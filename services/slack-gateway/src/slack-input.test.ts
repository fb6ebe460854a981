import { describe, expect, it } from "vitest";
import { INPUT_LIMITS } from "./slack-fields.js";
import { classifySlackInput, withinSignatureWindow } from "./slack-input.js";

const mention = (event: Record<string, unknown>) => ({
  type: "event_callback",
  event_id: "Ev01",
  team_id: "T0SANDBOX",
  token: "dropped",
  event: {
    type: "app_mention",
    user: "U0HUMAN",
    text: "<@U0MLLEAD> hi",
    ts: "1700000000.000100",
    channel: "C0GENERAL",
    ...event,
  },
});

describe("classifySlackInput", () => {
  it("keeps only the fields mllead reads of an event, so NATS carries nothing else", () => {
    const input = classifySlackInput(mention({ blocks: [{ type: "rich_text" }], client_msg_id: "x" }), false);
    expect(input).toEqual({
      kind: "event",
      envelope: {
        type: "event_callback",
        event_id: "Ev01",
        team_id: "T0SANDBOX",
        event: { type: "app_mention", user: "U0HUMAN", text: "<@U0MLLEAD> hi", ts: "1700000000.000100", channel: "C0GENERAL" },
      },
    });
  });

  it("trims a text over the task limit and says how long it was", () => {
    const input = classifySlackInput(mention({ text: "x".repeat(200_000) }), false);
    expect(input.kind).toBe("event");
    if (input.kind !== "event") return;
    expect(input.envelope.event.type === "app_mention" && input.envelope.event.text.length).toBe(INPUT_LIMITS.taskText);
    expect(input.oversized).toEqual({ field: "event.text", length: 200_000, limit: 4000 });
  });

  it.each([
    ["a null body", null, "body: expected a JSON object"],
    ["an array", [], "body: expected a JSON object"],
    ["event missing", { type: "event_callback", event_id: "Ev1" }, "event: Invalid input: expected object, received undefined"],
    [
      "event not an object",
      { type: "event_callback", event_id: "Ev1", event: "x" },
      "event: Invalid input: expected object, received string",
    ],
    ["text not a string", mention({ text: 5 }), "event.text: Invalid input: expected string, received number"],
    ["a channel that is no Slack id", mention({ channel: "general; drop" }), "event.channel: not a Slack id"],
    ["a ts that is no Slack ts", mention({ ts: "yesterday" }), "event.ts: not a Slack message ts"],
    ["an event id with spaces", { ...mention({}), event_id: "Ev 1" }, "event_id: not a Slack event id"],
  ])("refuses %s with a short reason", (_name, body, reason) => {
    expect(classifySlackInput(body, false)).toEqual({ kind: "refused", reason });
  });

  it("acknowledges and ignores event and payload types mllead does not use", () => {
    expect(classifySlackInput(mention({ type: "team_join" }), false).kind).toBe("ignored");
    expect(classifySlackInput({ type: "block_suggestion", user: { id: "U0HUMAN" } }, true).kind).toBe("ignored");
  });

  it("answers Slack's handshakes and passes interactions and slash commands on", () => {
    expect(classifySlackInput({ ssl_check: "1", token: "x" }, true)).toEqual({ kind: "ssl_check" });
    expect(classifySlackInput({ type: "url_verification", challenge: "abc" }, false)).toEqual({
      kind: "url_verification",
      challenge: "abc",
    });
    const command = { command: "/mllead", text: "status", user_id: "U0HUMAN", channel_id: "C0GENERAL", team_id: "T0SANDBOX" };
    expect(classifySlackInput(command, true)).toEqual({ kind: "interactive", body: command });
    const click = {
      type: "block_actions",
      user: { id: "U0HUMAN" },
      actions: [{ type: "button", action_id: "mllead_approve", value: '{"t":"t1","r":1}' }],
    };
    expect(classifySlackInput(click, true)).toEqual({ kind: "interactive", body: click });
  });

  it("refuses fields beyond Slack's own limits", () => {
    const click = (value: string) => ({
      type: "block_actions",
      user: { id: "U0HUMAN" },
      actions: [{ type: "button", action_id: "mllead_approve", value }],
    });
    expect(classifySlackInput(click("v".repeat(2000)), true).kind).toBe("interactive");
    expect(classifySlackInput(click("v".repeat(2001)), true)).toEqual({
      kind: "refused",
      reason: "payload.actions.0.value: Too big: expected string to have <=2000 characters",
    });
  });
});

describe("withinSignatureWindow", () => {
  const now = Date.UTC(2026, 10, 26, 12);
  it("takes five minutes either way and nothing beyond", () => {
    expect(withinSignatureWindow(now / 1000 + 300, now)).toBe(true);
    expect(withinSignatureWindow(now / 1000 - 300, now)).toBe(true);
    expect(withinSignatureWindow(now / 1000 + 301, now)).toBe(false);
    expect(withinSignatureWindow(now / 1000 - 301, now)).toBe(false);
    expect(withinSignatureWindow(Date.UTC(2100, 0, 1) / 1000, now)).toBe(false);
    expect(withinSignatureWindow(Number.NaN, now)).toBe(false);
  });
});
