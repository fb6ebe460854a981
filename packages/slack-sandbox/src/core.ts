import type { RateLimiter } from "./rate-limit.js";
import type { SocketModeServer } from "./socket-mode.js";
import type { WorkspaceStore } from "./store.js";
import type { ViewRegistry } from "./views.js";

/** Who the app is in the sandbox workspace (what `auth.test` answers). */
export interface BotIdentity {
  userId: string;
  botId: string;
  appId: string;
  teamId: string;
  teamName: string;
}

/** One recorded Web API call. `args` never holds the token. */
export interface ApiCall {
  method: string;
  args: Record<string, unknown>;
  at: string;
  status: number;
  ok: boolean;
  error?: string;
}

/** Where a `response_url` leads: the conversation and person it answers. */
export interface ResponseTarget {
  channel: string;
  user: string;
  messageTs?: string;
  threadTs?: string;
}

/** A body posted to a `response_url`. */
export interface ResponsePost {
  id: string;
  target: ResponseTarget;
  body: Record<string, unknown>;
}

/** State shared by the Web API fake, the event driver and the browser UI. */
export interface SandboxCore {
  store: WorkspaceStore;
  bot: BotIdentity;
  botToken: string;
  /** The app-level token (xapp-…) that `apps.connections.open` takes, and nothing else does. */
  appToken: string;
  /** Socket Mode: the connections the app opened and the envelopes sent on them. */
  socket: SocketModeServer;
  rates: RateLimiter;
  calls: ApiCall[];
  responseTargets: Map<string, ResponseTarget>;
  responses: ResponsePost[];
  /** Trigger ids issued to interactions, and the modals the app opened with them. */
  views: ViewRegistry;
  /** The sandbox's base URL (upload URLs and file links point here). */
  baseUrl: () => string;
  /** The workspace's upload ceiling in bytes: a longer upload is `file_upload_size_restricted`. */
  maxUploadBytes: number;
  /** Whether the app may show a status in threads (`assistant.threads.setStatus`). */
  allowThreadStatus: boolean;
  /** A test's stand-in for Slack refusing a call: the error name to answer with, or null to go on. */
  fault: ((method: string, args: Record<string, unknown>) => string | null) | null;
}
