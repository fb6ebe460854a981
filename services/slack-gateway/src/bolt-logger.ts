import { type Logger as BoltLogger, LogLevel } from "@slack/bolt";
import type { Logger } from "pino";

/** Bolt's logger interface over the service's pino logger, so Bolt's lines are JSON, redacted and levelled alike. */
export function boltLogger(log: Logger): BoltLogger {
  let level = LogLevel.INFO;
  let child = log.child({ component: "bolt" });
  const write = (lvl: "debug" | "info" | "warn" | "error", msgs: unknown[]) => {
    const err = msgs.find((m) => m instanceof Error);
    const text = msgs
      .filter((m) => !(m instanceof Error))
      .map((m) => (typeof m === "string" ? m : JSON.stringify(m)))
      .join(" ");
    if (err) child[lvl]({ err }, text || (err as Error).message);
    else child[lvl](text);
  };
  return {
    debug: (...m: unknown[]) => write("debug", m),
    info: (...m: unknown[]) => write("info", m),
    warn: (...m: unknown[]) => write("warn", m),
    error: (...m: unknown[]) => write("error", m),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: (name: string) => {
      child = log.child({ component: name });
    },
  };
}
