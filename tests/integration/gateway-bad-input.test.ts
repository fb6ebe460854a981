/**
 * Generated bad input against the real gateway over real HTTP: correctly signed requests whose
 * bodies are malformed in every way Slack's payloads can be (missing fields, wrong types, nulls,
 * unicode, deep JSON, huge bodies, wrong content types, broken JSON and forms), seeded so a failure
 * replays: BAD_INPUT_SEED=<seed> BAD_INPUT_CASES=<n> pnpm vitest run tests/integration/gateway-bad-input.test.ts
 * (BAD_INPUT_DEBUG=1 prints every case and its answer).
 */
import { createHmac } from "node:crypto";
import { TaskCreate } from "@mllead/contracts";
import { describe, expect, it, vi } from "vitest";
import { deepText, type Json, mutate, prng, type Rng } from "../helpers/fuzz.js";
import { type GatewayHarness, SIGNING_SECRET, startGatewayHarness } from "../helpers/gateway.js";

const SEED = Number(process.env.BAD_INPUT_SEED ?? 0x5eed_2026);
const CASES = Number(process.env.BAD_INPUT_CASES ?? 1200);
const WAIT = { timeout: 30_000, interval: 100 };

interface Case {
  name: string;
  body: string | Uint8Array;
  contentType?: string;
  /** Leave the signature headers out (they are present on every other case). */
  unsigned?: boolean;
}

const BOT = "U0MLLEAD";
const TEAM = "T0SANDBOX";
const CHANNEL = "C0GENERAL";

const ts = (r: Rng) => `${1_700_000_000 + r.int(0, 99_999_999)}.${String(r.int(0, 999_999)).padStart(6, "0")}`;

/** Well-formed bodies of every kind the gateway takes; mutations break them. */
function templates(r: Rng): { kind: "event" | "interaction" | "command" | "verification"; value: Record<string, Json> }[] {
  const envelope = (event: Record<string, Json>): Record<string, Json> => ({
    token: "x",
    team_id: TEAM,
    api_app_id: "A0MLLEAD",
    event,
    type: "event_callback",
    event_id: `EvFUZZ${r.int(0, 1e9)}`,
    event_time: 1_700_000_000,
    authorizations: [{ team_id: TEAM, user_id: BOT, is_bot: true, is_enterprise_install: false }],
    is_ext_shared_channel: false,
  });
  const t = ts(r);
  const user = { id: "U0HUMAN", username: "human", team_id: TEAM };
  const view = {
    id: "V0FUZZ",
    type: "modal",
    callback_id: "mllead_changes",
    private_metadata: JSON.stringify({ taskId: "tFuzz", revision: 1, channel: CHANNEL, threadTs: t }),
    state: { values: { changes: { feedback: { type: "plain_text_input", value: "use AUC" } } } },
  };
  return [
    {
      kind: "event",
      value: envelope({
        type: "app_mention",
        user: "U0HUMAN",
        text: `<@${BOT}> train a baseline`,
        ts: t,
        channel: CHANNEL,
        event_ts: t,
      }),
    },
    {
      kind: "event",
      value: envelope({
        type: "message",
        user: "U0HUMAN",
        text: "approve",
        ts: t,
        thread_ts: ts(r),
        channel: CHANNEL,
        channel_type: "channel",
      }),
    },
    {
      kind: "event",
      value: envelope({
        type: "reaction_added",
        user: "U0HUMAN",
        reaction: "white_check_mark",
        item: { type: "message", channel: CHANNEL, ts: t },
      }),
    },
    { kind: "event", value: envelope({ type: "app_home_opened", user: "U0HUMAN", channel: "D0HOME", tab: "home" }) },
    {
      kind: "interaction",
      value: {
        type: "block_actions",
        user,
        team: { id: TEAM, domain: "x" },
        channel: { id: CHANNEL, name: "general" },
        container: { type: "message", message_ts: t, channel_id: CHANNEL },
        message: { ts: t, text: "Plan revision 1" },
        trigger_id: "1.2.3",
        response_url: "http://127.0.0.1:9/response",
        actions: [
          {
            type: "button",
            action_id: r.pick(["mllead_approve", "mllead_cancel", "mllead_request_changes", "other"]),
            block_id: "plan_1",
            value: JSON.stringify({ t: "tFuzz", r: 1 }),
            action_ts: t,
          },
        ],
      },
    },
    {
      kind: "interaction",
      value: { type: r.pick(["view_submission", "view_closed"]), user, team: { id: TEAM }, view, trigger_id: "1.2.3" },
    },
    {
      kind: "interaction",
      value: {
        type: r.pick(["message_action", "shortcut"]),
        callback_id: "mllead_ask",
        trigger_id: "1.2.3",
        user,
        team: { id: TEAM },
        channel: { id: CHANNEL },
        message: { ts: t, text: "can we train on this?", user: "U0HUMAN" },
        message_ts: t,
      },
    },
    {
      kind: "command",
      value: {
        token: "x",
        team_id: TEAM,
        channel_id: CHANNEL,
        user_id: "U0HUMAN",
        user_name: "human",
        command: "/mllead",
        text: r.pick(["status", "help", "", "nonsense"]),
        response_url: "http://127.0.0.1:9/response",
        trigger_id: "1.2.3",
      },
    },
    { kind: "verification", value: { token: "x", challenge: "abc", type: "url_verification" } },
  ];
}

function form(fields: Record<string, Json>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) params.append(k, typeof v === "string" ? v : JSON.stringify(v));
  return params.toString();
}

/** One generated request. */
function generate(r: Rng, i: number): Case {
  const t = r.pick(templates(r));
  const { value, what } = r.chance(0.9) ? mutate(r, t.value) : { value: t.value as Json, what: "unchanged" };
  const name = `#${i} ${t.kind} ${String(t.value.type ?? t.value.command)}: ${what}`;
  let c: Case;
  if (t.kind === "interaction") {
    const payload = r.chance(0.15) ? r.pick(["{not json", "null", "42", '"str"', "[]", ""]) : JSON.stringify(value);
    const extra = r.chance(0.1) ? r.pick(["&payload=%7B%7D", "&ssl_check=1", "&payload=", "&&&="]) : "";
    c = {
      name,
      body: `${new URLSearchParams({ payload }).toString()}${extra}`,
      contentType: "application/x-www-form-urlencoded",
    };
  } else if (t.kind === "command") {
    const body = value && typeof value === "object" && !Array.isArray(value) ? form(value) : String(value);
    c = {
      name,
      body: r.chance(0.1) ? `${body}&text=again&user_id=U0OTHER` : body,
      contentType: "application/x-www-form-urlencoded",
    };
  } else {
    c = { name, body: JSON.stringify(value), contentType: "application/json" };
  }
  // Now and then, break the request itself rather than a field.
  if (r.chance(0.12)) {
    const raw = typeof c.body === "string" ? c.body : "";
    const how = r.int(0, 9);
    if (how === 0) return { ...c, name: `${name} + truncated`, body: raw.slice(0, r.int(0, raw.length)) };
    if (how === 1) return { ...c, name: `${name} + trailing garbage`, body: `${raw}}}]]\u0000` };
    if (how === 2) return { ...c, name: `${name} + BOM`, body: `\ufeff${raw}` };
    if (how === 3)
      return { ...c, name: `${name} + invalid UTF-8`, body: Buffer.concat([Buffer.from(raw), Buffer.from([0xc3, 0x28, 0xff])]) };
    if (how === 4) {
      const contentType = r.pick([
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/x-www-form-urlencoded; charset=utf-8",
        ";;;",
        "*/*",
      ]);
      return { ...c, name: `${name} + content-type ${contentType}`, contentType };
    }
    if (how === 5) {
      const { contentType: _omit, ...rest } = c;
      return { ...rest, name: `${name} + no content-type`, body: Buffer.from(raw) };
    }
    if (how === 6)
      return {
        ...c,
        name: `${name} + JSON as a form`,
        contentType: c.contentType === "application/json" ? "application/x-www-form-urlencoded" : "application/json",
      };
    if (how === 7) return { ...c, name: `${name} + deep JSON body`, body: deepText(r.pick([1000, 20_000, 100_000])) };
    if (how === 8) return { ...c, name: `${name} + empty body`, body: "" };
    return {
      ...c,
      name: `${name} + top-level ${r.pick(["null", "[]", "42", '"x"', "true"])}`,
      body: r.pick(["null", "[]", "42", '"x"', "true"]),
      contentType: "application/json",
    };
  }
  return c;
}

/** A few hand-made cases the generator would reach only by luck. */
function fixedCases(): Case[] {
  const json = "application/json";
  const mention = (text: Json) =>
    JSON.stringify({
      type: "event_callback",
      event_id: "EvFixed1",
      team_id: TEAM,
      event: { type: "app_mention", user: "U0HUMAN", text, ts: "1700000000.000100", channel: CHANNEL },
    });
  return [
    { name: "null body", body: "null", contentType: json },
    { name: "event missing", body: JSON.stringify({ type: "event_callback", event_id: "EvX" }), contentType: json },
    {
      name: "event is a string",
      body: JSON.stringify({ type: "event_callback", event_id: "EvX", event: "app_mention" }),
      contentType: json,
    },
    { name: "event is null", body: JSON.stringify({ type: "event_callback", event_id: "EvX", event: null }), contentType: json },
    { name: "text is a number", body: mention(42), contentType: json },
    { name: "text is an object", body: mention({ text: "hi" }), contentType: json },
    { name: "2 MiB body", body: JSON.stringify({ type: "event_callback", pad: "x".repeat(2 * 1024 * 1024) }), contentType: json },
    {
      name: "just over 1 MiB",
      body: JSON.stringify({ type: "event_callback", pad: "x".repeat(1024 * 1024) }),
      contentType: json,
    },
    { name: "900 KB mention text", body: mention("y".repeat(900_000)), contentType: json },
    { name: "url_verification without challenge", body: JSON.stringify({ type: "url_verification" }), contentType: json },
    {
      name: "url_verification challenge is an object",
      body: JSON.stringify({ type: "url_verification", challenge: { a: 1 } }),
      contentType: json,
    },
    { name: "ssl_check", body: "ssl_check=1&token=x", contentType: "application/x-www-form-urlencoded" },
    {
      name: "ssl_check smuggling a payload",
      body: `ssl_check=1&payload=${encodeURIComponent('{"type":"block_actions"}')}`,
      contentType: "application/x-www-form-urlencoded",
      unsigned: true,
    },
    { name: "payload=null", body: "payload=null", contentType: "application/x-www-form-urlencoded" },
    { name: "payload is not JSON", body: "payload=%7Bnope", contentType: "application/x-www-form-urlencoded" },
    {
      name: "slash command without text",
      body: "command=%2Fmllead&user_id=U0HUMAN&channel_id=C0GENERAL&team_id=T0SANDBOX",
      contentType: "application/x-www-form-urlencoded",
    },
    {
      name: "slash command, text repeated",
      body: "command=%2Fmllead&text=a&text=b&user_id=U0HUMAN&channel_id=C0GENERAL&team_id=T0SANDBOX",
      contentType: "application/x-www-form-urlencoded",
    },
    {
      name: "block_actions without actions",
      body: form({ payload: { type: "block_actions", user: { id: "U0HUMAN" } } }),
      contentType: "application/x-www-form-urlencoded",
    },
    {
      name: "block_actions with user null",
      body: form({ payload: { type: "block_actions", user: null, actions: [{ type: "button", action_id: "mllead_approve" }] } }),
      contentType: "application/x-www-form-urlencoded",
    },
    {
      name: "view_submission without view",
      body: form({ payload: { type: "view_submission", user: { id: "U0HUMAN" } } }),
      contentType: "application/x-www-form-urlencoded",
    },
    {
      name: "unknown interaction type",
      body: form({ payload: { type: "block_suggestion", user: { id: "U0HUMAN" } } }),
      contentType: "application/x-www-form-urlencoded",
    },
    { name: "deep JSON, 100k levels", body: deepText(100_000), contentType: json },
  ];
}

/** Signs like Slack: HMAC over the exact bytes sent. */
function sign(body: string | Uint8Array, timestampSec: number): string {
  return `v0=${createHmac("sha256", SIGNING_SECRET).update(`v0:${timestampSec}:`).update(body).digest("hex")}`;
}

async function send(h: GatewayHarness, c: Case): Promise<{ status: number; body: string; contentType: string }> {
  const now = Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {};
  if (c.contentType !== undefined) headers["content-type"] = c.contentType;
  if (!c.unsigned) {
    headers["x-slack-request-timestamp"] = String(now);
    headers["x-slack-signature"] = sign(c.body, now);
  }
  try {
    const res = await fetch(`${h.gatewayUrl}/slack/events`, {
      method: "POST",
      headers,
      body: c.body,
      signal: AbortSignal.timeout(10_000),
    });
    return { status: res.status, body: await res.text(), contentType: res.headers.get("content-type") ?? "" };
  } catch (err) {
    return { status: -1, body: `no answer: ${(err as Error).message}`, contentType: "" };
  }
}

/** What a person or Slack must never see: stack frames, internal error names, paths, framework codes. */
const INTERNALS =
  /\bat [\w$.<>]+ \(|node:internal|\/work\/|\.ts:\d+|\b[A-Z][A-Za-z]*Error\b|FST_ERR|Zod|Cannot read prop|is not a function|is not defined|Unexpected token|ECONN/;

function problemWith(c: Case, res: { status: number; body: string; contentType: string }): string | null {
  if (![200, 400, 401, 413, 415].includes(res.status)) return `${c.name}: HTTP ${res.status} ${res.body.slice(0, 200)}`;
  if (INTERNALS.test(res.body)) return `${c.name}: internal detail in the answer: ${res.body.slice(0, 300)}`;
  if (res.status !== 200) {
    if (res.body.length > 400) return `${c.name}: a ${res.status} with a ${res.body.length}-character body`;
    const refusal = JSON.parse(res.body || "{}") as { ok?: unknown; error?: unknown; reason?: unknown };
    if (refusal.ok !== false || typeof refusal.error !== "string")
      return `${c.name}: a ${res.status} without {ok:false, error}: ${res.body}`;
  }
  return null;
}

async function inboxDepth(h: GatewayHarness): Promise<number> {
  return (await h.lead.streamState("MLLEAD_SLACK_IN")).messages;
}

describe("slack-gateway under generated bad input", () => {
  it(`${CASES} seeded malformed, correctly signed requests (seed ${SEED}): never a 5xx or an internal message; the gateway stays ready and still takes a mention`, async () => {
    await using h = await startGatewayHarness();
    const r = prng(SEED);
    const cases = [...fixedCases(), ...Array.from({ length: CASES }, (_, i) => generate(r, i))];
    if (!process.env.BAD_INPUT_CASES) expect(cases.length).toBeGreaterThan(1000);

    const problems: string[] = [];
    const statuses = new Map<number, number>();
    // A handful at a time, as Slack delivers them: concurrent, but not a flood.
    for (let i = 0; i < cases.length; i += 8) {
      const batch = cases.slice(i, i + 8);
      const results = await Promise.all(batch.map((c) => send(h, c)));
      results.forEach((res, j) => {
        const c = batch[j] as Case;
        if (process.env.BAD_INPUT_DEBUG) process.stderr.write(`${c.name} -> ${res.status} ${res.body.slice(0, 120)}\n`);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const p = problemWith(c, res);
        if (p) problems.push(p);
      });
    }
    expect(problems).toEqual([]);
    // Every kind of answer was exercised: stored, refused as malformed, unsigned, too large, wrong type.
    expect([...statuses.keys()].sort()).toEqual([200, 400, 401, 413, 415]);

    // Everything that was stored was handled: no event is stuck being retried by a listener that throws.
    await vi.waitFor(async () => expect(await inboxDepth(h)).toBe(0), WAIT);
    const ready = await fetch(`${h.gatewayUrl}/readyz`);
    expect(ready.status).toBe(200);
    for (const cmd of h.creates()) expect(TaskCreate.safeParse(cmd).success).toBe(true);

    const before = h.creates().length;
    const sent = await h.sandbox.mention("train a churn baseline after all that");
    expect(sent.status).toBe(200);
    await vi.waitFor(
      () =>
        expect(
          h
            .creates()
            .slice(before)
            .map((c) => c.text),
        ).toEqual(["train a churn baseline after all that"]),
      WAIT,
    );
  });
});
