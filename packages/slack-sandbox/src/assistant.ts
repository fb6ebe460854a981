import { type Method, required, str } from "./api-args.js";
import type { SandboxCore } from "./core.js";
import { ApiError } from "./errors.js";

/**
 * `assistant.threads.setStatus`: the app's "is thinking…" line under a thread, shown until the
 * app replies there (or sets an empty status). A workspace where the app may not use it answers
 * `missing_scope`, as Slack does for an app without the assistant feature.
 */
export function assistantMethods(core: SandboxCore): Record<string, Method> {
  const { store } = core;
  return {
    "assistant.threads.setStatus": (args) => {
      if (!core.allowThreadStatus) throw new ApiError("missing_scope", { needed: "assistant:write", provided: "chat:write" });
      const channel = store.channel(required(args, "channel_id"))?.id;
      if (!channel) throw new ApiError("channel_not_found");
      const threadTs = required(args, "thread_ts");
      if (!store.find(channel, threadTs)) throw new ApiError("invalid_thread_ts");
      const status = str(args, "status") ?? "";
      if (typeof args.status !== "string") throw new ApiError("invalid_arguments", { detail: "missing required field: status" });
      if (status) store.threadStatus.set(`${channel}/${threadTs}`, status);
      else store.threadStatus.delete(`${channel}/${threadTs}`);
      return { ok: true };
    },
  };
}
