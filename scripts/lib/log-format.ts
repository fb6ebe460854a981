const LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const SKIP = new Set(["level", "time", "pid", "hostname", "name", "msg", "v"]);

/** One pino JSON line as `12:00:01 tech-lead   info  message key=value`; other text passes through. */
export function formatLogLine(service: string, line: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `${service.padEnd(16)} ${line}`;
  }
  const time = new Date(Number(rec.time ?? Date.now())).toISOString().slice(11, 19);
  const level = LEVELS[Number(rec.level)] ?? String(rec.level);
  const extra = Object.entries(rec)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" ");
  return `${time} ${service.padEnd(16)} ${level.padEnd(5)} ${String(rec.msg ?? "")}${extra ? `  ${extra}` : ""}`.slice(0, 400);
}
