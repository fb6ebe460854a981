import { randomBytes } from "node:crypto";
import { jsonArg, type Method, required, str } from "./api-args.js";
import type { SandboxCore } from "./core.js";
import { ApiError } from "./errors.js";
import { blockProblems, SLACK_LIMITS } from "./limits.js";
import type { SandboxHomeView } from "./store.js";

/** Checks a Home tab view against Slack's rules; Slack-style messages, empty when valid. */
export function homeViewProblems(view: unknown): string[] {
  if (!view || typeof view !== "object") return ["[ERROR] must provide an object [json-pointer:/view]"];
  const v = view as Record<string, unknown>;
  const problems: string[] = [];
  if (v.type !== "home") problems.push("[ERROR] must be home [json-pointer:/view/type]");
  if (!Array.isArray(v.blocks)) return [...problems, "[ERROR] must provide an array [json-pointer:/view/blocks]"];
  problems.push(
    ...blockProblems(v.blocks, SLACK_LIMITS.maxHomeBlocks).map(
      (p) => `[ERROR] ${p.replace("[json-pointer:", "[json-pointer:/view")}`,
    ),
  );
  if (typeof v.private_metadata === "string" && v.private_metadata.length > SLACK_LIMITS.maxPrivateMetadata) {
    problems.push(
      `[ERROR] must be less than ${SLACK_LIMITS.maxPrivateMetadata + 1} characters [json-pointer:/view/private_metadata]`,
    );
  }
  return problems;
}

/** `views.publish`: the app's Home tab for one person, replaced whole; a stale `hash` is `hash_conflict`. */
export function homeMethods(core: SandboxCore): Record<string, Method> {
  const { store, bot } = core;
  return {
    "views.publish": (args) => {
      const user = required(args, "user_id");
      if (!/^[UW][A-Z0-9]+$/.test(user))
        throw new ApiError("invalid_arguments", { response_metadata: { messages: ["invalid `user_id`"] } });
      const view = args.view === undefined ? undefined : jsonArg(args.view);
      const problems = homeViewProblems(view);
      if (problems.length) throw new ApiError("invalid_arguments", { response_metadata: { messages: problems } });
      if (JSON.stringify(view).length > 250_000) throw new ApiError("view_too_large");
      const prev = store.homes.get(user);
      const hash = str(args, "hash");
      if (hash !== undefined && prev && prev.hash !== hash) throw new ApiError("hash_conflict");
      const v = view as Record<string, unknown>;
      const published: SandboxHomeView = {
        id: prev?.id ?? `V${randomBytes(5).toString("hex").toUpperCase()}`,
        user,
        blocks: v.blocks as unknown[],
        private_metadata: typeof v.private_metadata === "string" ? v.private_metadata : "",
        callback_id: typeof v.callback_id === "string" ? v.callback_id : "",
        hash: `${Date.now()}.${randomBytes(4).toString("hex")}`,
        updatedAt: new Date().toISOString(),
      };
      store.homes.set(user, published);
      const { user: _u, updatedAt: _at, ...rest } = published;
      return {
        ok: true,
        view: {
          ...rest,
          type: "home",
          team_id: bot.teamId,
          app_id: bot.appId,
          bot_id: bot.botId,
          root_view_id: rest.id,
          state: { values: {} },
        },
      };
    },
  };
}
