import { randomBytes } from "node:crypto";
import { SandboxError, ViewError } from "./errors.js";
import { blockProblems, SLACK_LIMITS } from "./limits.js";

/** A plain_text object as a view's title, submit and close carry it. */
export interface PlainText {
  type: "plain_text";
  text: string;
  emoji?: boolean;
}

/** A modal the app opened with `views.open`, as Slack describes it, plus who it is open for. */
export interface SandboxView {
  id: string;
  type: "modal";
  /** The person whose click or command issued the trigger: the modal is on their screen. */
  user: string;
  /** The conversation the trigger came from. */
  channel: string;
  callback_id: string;
  private_metadata: string;
  title: PlainText;
  submit?: PlainText;
  close?: PlainText;
  notify_on_close: boolean;
  blocks: unknown[];
  hash: string;
  /** False once submitted successfully or cancelled. */
  open: boolean;
  /** What the app's last `response_action: "errors"` said, by block id (shown under the inputs). */
  errors: Record<string, string>;
}

/** What a person typed into a modal's inputs, by the input element's `action_id`. */
export type ViewValues = Record<string, string>;

/** The app's identity as interaction payloads carry it. */
interface AppIds {
  teamId: string;
  appId: string;
  botId: string;
}

/** What a trigger id was issued for. */
interface Trigger {
  user: string;
  channel: string;
  issuedAt: number;
  exchanged: boolean;
}

function plainText(t: unknown, at: string, required: boolean, problems: string[], max: number = SLACK_LIMITS.maxViewText): void {
  if (t === undefined && !required) return;
  const o = t as { type?: unknown; text?: unknown } | undefined;
  if (o?.type !== "plain_text" || typeof o.text !== "string" || o.text.length === 0) {
    problems.push(`[ERROR] must be a plain_text object with text [json-pointer:/view/${at}]`);
  } else if (o.text.length > max) {
    problems.push(`[ERROR] must be less than ${max + 1} characters [json-pointer:/view/${at}/text]`);
  }
}

/** Checks a modal against Slack's rules; returns Slack-style messages, empty when valid. */
export function viewProblems(view: unknown): string[] {
  if (!view || typeof view !== "object") return ["[ERROR] must provide an object [json-pointer:/view]"];
  const v = view as Record<string, unknown>;
  const problems: string[] = [];
  if (v.type !== "modal") problems.push("[ERROR] must be modal [json-pointer:/view/type]");
  plainText(v.title, "title", true, problems);
  plainText(v.submit, "submit", false, problems);
  plainText(v.close, "close", false, problems);
  if (!Array.isArray(v.blocks)) return [...problems, "[ERROR] must provide an array [json-pointer:/view/blocks]"];
  problems.push(
    ...blockProblems(v.blocks, SLACK_LIMITS.maxViewBlocks).map(
      (p) => `[ERROR] ${p.replace("[json-pointer:", "[json-pointer:/view")}`,
    ),
  );
  v.blocks.forEach((b: { type?: unknown; label?: unknown; element?: { type?: unknown; max_length?: unknown } }, i) => {
    if (b?.type !== "input") return;
    // An input's label may be up to 2000 characters; the 24-character cap is for title, submit and close.
    plainText(b.label, `blocks/${i}/label`, true, problems, SLACK_LIMITS.maxInputLabel);
    if (!b.element || typeof b.element.type !== "string")
      problems.push(`[ERROR] must provide an element [json-pointer:/view/blocks/${i}/element]`);
    const max = b.element?.max_length;
    if (typeof max === "number" && (max < 1 || max > SLACK_LIMITS.maxInputChars)) {
      problems.push(
        `[ERROR] must be between 1 and ${SLACK_LIMITS.maxInputChars} [json-pointer:/view/blocks/${i}/element/max_length]`,
      );
    }
  });
  if (v.submit === undefined && v.blocks.some((b: { type?: unknown }) => b?.type === "input")) {
    problems.push("[ERROR] submit is required when an input block is within the blocks array [json-pointer:/view/submit]");
  }
  if (typeof v.private_metadata === "string" && v.private_metadata.length > SLACK_LIMITS.maxPrivateMetadata) {
    problems.push(
      `[ERROR] must be less than ${SLACK_LIMITS.maxPrivateMetadata + 1} characters [json-pointer:/view/private_metadata]`,
    );
  }
  if (typeof v.callback_id === "string" && v.callback_id.length > SLACK_LIMITS.maxActionId) {
    problems.push(`[ERROR] must be less than ${SLACK_LIMITS.maxActionId + 1} characters [json-pointer:/view/callback_id]`);
  }
  return problems;
}

/**
 * Trigger ids and the modals opened with them. Like Slack, a trigger comes from a person's click or
 * command, opens one view, and only within `ttlMs` (3 s) of being issued.
 */
export class ViewRegistry {
  private readonly triggers = new Map<string, Trigger>();
  private readonly views = new Map<string, SandboxView>();

  constructor(public ttlMs = 3000) {}

  /** A fresh trigger id for an interaction by `user` in `channel`. */
  issueTrigger(user: string, channel: string): string {
    const triggerId = `${Date.now()}.${randomBytes(5).toString("hex")}`;
    this.triggers.set(triggerId, { user, channel, issuedAt: Date.now(), exchanged: false });
    return triggerId;
  }

  /** Opens a modal for the trigger's person; throws a ViewError named as Slack names it. */
  open(triggerId: string | undefined, view: unknown): SandboxView {
    if (!triggerId) throw new ViewError("invalid_arguments", ["[ERROR] missing required field: trigger_id"]);
    const problems = viewProblems(view);
    if (problems.length > 0) throw new ViewError("invalid_arguments", problems);
    const trigger = this.triggers.get(triggerId);
    if (!trigger) throw new ViewError("invalid_trigger_id");
    if (trigger.exchanged) throw new ViewError("exchanged_trigger_id");
    if (Date.now() - trigger.issuedAt >= this.ttlMs) throw new ViewError("expired_trigger_id");
    trigger.exchanged = true;
    const v = view as Record<string, unknown>;
    const opened: SandboxView = {
      id: `V${randomBytes(5).toString("hex").toUpperCase()}`,
      type: "modal",
      user: trigger.user,
      channel: trigger.channel,
      callback_id: typeof v.callback_id === "string" ? v.callback_id : "",
      private_metadata: typeof v.private_metadata === "string" ? v.private_metadata : "",
      title: v.title as PlainText,
      ...(v.submit ? { submit: v.submit as PlainText } : {}),
      ...(v.close ? { close: v.close as PlainText } : {}),
      notify_on_close: v.notify_on_close === true,
      blocks: v.blocks as unknown[],
      hash: `${Date.now()}.${randomBytes(4).toString("hex")}`,
      open: true,
      errors: {},
    };
    this.views.set(opened.id, opened);
    return opened;
  }

  get(id: string): SandboxView | undefined {
    return this.views.get(id);
  }

  /** Views still on someone's screen (of one person when `user` is given), oldest first. */
  list(user?: string): SandboxView[] {
    return [...this.views.values()].filter((v) => v.open && (user === undefined || v.user === user));
  }
}

/** The view as Slack sends it to the app and answers `views.open` with (no sandbox bookkeeping). */
export function slackView(v: SandboxView, ids: AppIds): Record<string, unknown> {
  const { user: _u, channel: _c, open: _o, errors: _e, ...view } = v;
  return {
    ...view,
    team_id: ids.teamId,
    app_id: ids.appId,
    bot_id: ids.botId,
    root_view_id: v.id,
    previous_view_id: null,
    external_id: "",
    clear_on_close: false,
    state: { values: {} },
  };
}

function person(user: string, teamId: string) {
  return { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: teamId };
}

/** The `view_submission` payload for `values` typed into `view`'s inputs; throws on an input the view lacks. */
export function viewSubmission(view: SandboxView, values: ViewValues, user: string, ids: AppIds, triggerId: string) {
  const inputs = new Map<string, { blockId: string; type: string }>();
  for (const b of view.blocks as { type?: string; block_id?: string; element?: { type?: string; action_id?: string } }[]) {
    if (b.type === "input" && b.block_id && b.element?.action_id) {
      inputs.set(b.element.action_id, { blockId: b.block_id, type: b.element.type ?? "plain_text_input" });
    }
  }
  for (const actionId of Object.keys(values)) {
    if (!inputs.has(actionId)) throw new SandboxError("not_found", `view ${view.id} has no input '${actionId}'`);
  }
  const state: Record<string, Record<string, { type: string; value: string | null }>> = {};
  for (const [actionId, input] of inputs) {
    // Slack sends null for a box left empty.
    state[input.blockId] = { ...state[input.blockId], [actionId]: { type: input.type, value: values[actionId] || null } };
  }
  return {
    type: "view_submission",
    team: { id: ids.teamId, domain: "mllead-sandbox" },
    user: person(user, ids.teamId),
    api_app_id: ids.appId,
    token: "sandbox-verification-token",
    trigger_id: triggerId,
    view: { ...slackView(view, ids), state: { values: state } },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

/** The `view_closed` payload Slack sends when a person closes a modal that asked for `notify_on_close`. */
export function viewClosed(view: SandboxView, ids: AppIds) {
  return {
    type: "view_closed",
    team: { id: ids.teamId, domain: "mllead-sandbox" },
    user: person(view.user, ids.teamId),
    api_app_id: ids.appId,
    token: "sandbox-verification-token",
    view: slackView(view, ids),
    is_cleared: false,
  };
}

/** What Slack does with the app's answer to a submission: close, show errors, or update the modal. */
export function applyViewAnswer(view: SandboxView, json: unknown): void {
  const answer = (json ?? {}) as { response_action?: string; errors?: Record<string, string>; view?: unknown };
  if (answer.response_action === "errors") {
    view.errors = answer.errors ?? {};
  } else if (answer.response_action === "update" && viewProblems(answer.view).length === 0) {
    const next = answer.view as { blocks: unknown[]; title: PlainText };
    Object.assign(view, { blocks: next.blocks, title: next.title, errors: {} });
  } else {
    view.open = false;
    view.errors = {};
  }
}
