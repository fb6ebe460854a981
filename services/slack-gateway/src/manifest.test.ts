import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { SLASH_COMMANDS } from "./surfaces/commands.js";

const SRC = dirname(fileURLToPath(import.meta.url));
const MANIFEST = join(SRC, "../../../infra/slack-manifest.yml");

interface Manifest {
  features: {
    app_home?: { home_tab_enabled?: boolean; messages_tab_enabled?: boolean };
    bot_user?: { display_name?: string };
    shortcuts?: { name: string; type: string; callback_id: string }[];
    slash_commands?: { command: string; url?: string; usage_hint?: string; description?: string }[];
  };
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    event_subscriptions: { bot_events: string[]; request_url?: string };
    interactivity: { is_enabled: boolean; request_url?: string };
    socket_mode_enabled: boolean;
  };
}

/** The bot scope each Web API method the gateway calls needs (null: none). A new method fails the test until it is listed. */
const SCOPE_OF: Record<string, string | null> = {
  "auth.test": null,
  "chat.postMessage": "chat:write",
  "chat.update": "chat:write",
  "chat.postEphemeral": "chat:write",
  "chat.startStream": "chat:write",
  "chat.appendStream": "chat:write",
  "chat.stopStream": "chat:write",
  "reactions.add": "reactions:write",
  "conversations.replies": "channels:history",
  "files.upload": "files:write",
  "files.getUploadURLExternal": "files:write",
  "files.completeUploadExternal": "files:write",
  "views.open": null,
  "views.publish": null,
  "assistant.threads.setStatus": "assistant:write",
};

/** The scope each subscribed event needs. */
const EVENT_SCOPE: Record<string, string | null> = {
  app_mention: "app_mentions:read",
  "message.channels": "channels:history",
  "message.groups": "groups:history",
  "message.im": "im:history",
  reaction_added: "reactions:read",
  app_home_opened: null,
};

function sources(dir = SRC): string {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const path = join(dir, e.name);
      if (e.isDirectory()) return [sources(path)];
      return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [readFileSync(path, "utf8")] : [];
    })
    .join("\n");
}

const code = sources();
const manifest = parse(readFileSync(MANIFEST, "utf8")) as Manifest;
const scopes = new Set(manifest.oauth_config.scopes.bot);
const all = (re: RegExp) => [...new Set([...code.matchAll(re)].map((m) => m[1] as string))].sort();

describe("infra/slack-manifest.yml carries what the gateway uses", () => {
  it("a bot scope for every Web API method the gateway calls", () => {
    // Calls on Bolt's client, and method names in strings (the Web API port names what it calls).
    const methods = all(
      /(?:client\.|["'`])((?:chat|reactions|conversations|files|views|auth|users|pins|assistant\.threads)\.[a-z][A-Za-z]+)/g,
    );
    expect(methods.length).toBeGreaterThan(5);
    for (const method of methods) {
      expect(Object.keys(SCOPE_OF), `add ${method} and its scope to SCOPE_OF`).toContain(method);
      const scope = SCOPE_OF[method];
      if (scope) expect([...scopes], `${method} needs ${scope}`).toContain(scope);
    }
  });

  it("an event subscription (and its scope) for every event the gateway listens to", () => {
    const events = all(/\.event\(\s*"([a-z_]+)"/g);
    expect(events).toEqual(expect.arrayContaining(["app_mention", "message", "reaction_added"]));
    const subscribed = manifest.settings.event_subscriptions.bot_events;
    for (const event of events) {
      const needed = event === "message" ? ["message.channels", "message.groups", "message.im"] : [event];
      for (const e of needed) {
        expect(subscribed, `subscribe to ${e}`).toContain(e);
        const scope = EVENT_SCOPE[e];
        if (scope) expect([...scopes], `${e} needs ${scope}`).toContain(scope);
      }
    }
    if (events.includes("app_home_opened")) expect(manifest.features.app_home?.home_tab_enabled).toBe(true);
  });

  it("every slash command and shortcut, with interactivity on and Socket Mode as the README says", () => {
    const commands = all(/\.command\(\s*"(\/[a-z0-9_-]+)"/g);
    expect(commands).toEqual(["/mllead"]);
    expect(manifest.features.slash_commands?.map((c) => c.command)).toEqual(commands);
    expect([...scopes]).toContain("commands");
    // Slack shows the hint as people type `/mllead`: every sub-command the gateway answers is in it, and nothing else.
    const hint = manifest.features.slash_commands?.[0]?.usage_hint ?? "";
    expect(hint.split(" | ")).toEqual(SLASH_COMMANDS.map((c) => c.name));
    expect((manifest.features.slash_commands?.[0]?.description ?? "").length).toBeLessThanOrEqual(100);

    const shortcutIds = all(/shortcut:\s*"([a-z0-9_]+)"/g);
    expect(shortcutIds).toContain("mllead_ask");
    for (const id of shortcutIds) {
      expect(manifest.features.shortcuts, `shortcut ${id}`).toContainEqual(
        expect.objectContaining({ callback_id: id, name: "Ask @mllead", type: "message" }),
      );
    }
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    // README: Socket Mode needs no public URL; HTTP mode points every request URL at /slack/events.
    expect(manifest.settings.socket_mode_enabled).toBe(true);
    for (const url of [
      manifest.settings.event_subscriptions.request_url,
      manifest.settings.interactivity.request_url,
      ...(manifest.features.slash_commands ?? []).map((c) => c.url),
    ]) {
      expect(url).toMatch(/\/slack\/events$/);
    }
  });
});
