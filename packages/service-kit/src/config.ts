import type { NatsCredentials } from "@mllead/bus";
import { z } from "zod";

/** A variable is missing or malformed. The message names it, so the fix is obvious. */
export class ConfigError extends Error {
  readonly code = "config_invalid";
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/**
 * Parses the environment once with a zod object whose keys are variable names.
 * Empty strings count as unset, so `FOO=` in a .env file falls back to the default.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== "") cleaned[k] = v;
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? "(environment)");
      return cleaned[name] === undefined ? `${name} is required but not set (${i.message})` : `${name}: ${i.message}`;
    }),
  );
}

/** A comma-separated variable as a list of its trimmed, non-empty items (unset = empty). */
export const envList = z
  .string()
  .default("")
  .transform((s) =>
    s
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean),
  );

/** A yes/no variable: `1`/`true` or `0`/`false` (unset or empty, as `.env.example` leaves it, = false). */
export const envFlag = z
  .enum(["true", "false", "1", "0", ""])
  .transform((v) => v === "true" || v === "1")
  .default(false);

/** Variables every service reads. */
export const BaseConfig = z.object({
  NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  /** A NATS `.creds` file (user JWT and seed) or an nkey seed file: who this service is on NATS. */
  NATS_CREDS: z.string().optional(),
  /** A NATS user and password instead of NATS_CREDS. Without either the service connects anonymously. */
  NATS_USER: z.string().optional(),
  NATS_PASSWORD: z.string().optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Port of the service's health/metrics server; 0 picks a free one. */
  PORT: z.coerce.number().int().min(0).max(65535).default(0),
  HOST: z.string().default("127.0.0.1"),
  /** Overrides every consumer's ack wait (seconds): short in tests so a killed worker's message comes back fast. */
  MLLEAD_ACK_WAIT_SEC: z.coerce.number().int().positive().optional(),
  /**
   * Copies JetStream keeps of every stream, KV bucket and Object Store a service owns: 1 (default) for a single
   * nats-server, 3 for a 3-node cluster (one node may be lost); at most 5. An existing one is scaled to it at start.
   */
  MLLEAD_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
  /** OTLP/HTTP collector for traces (`/v1/traces` is appended). Unset, with the next unset too: no tracing at all. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** The OTLP/HTTP traces URL itself; wins over OTEL_EXPORTER_OTLP_ENDPOINT. */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** `true` turns tracing off whatever the endpoints say (OpenTelemetry's standard switch). */
  OTEL_SDK_DISABLED: envFlag,
});
export type BaseConfig = z.output<typeof BaseConfig>;

/**
 * The NATS credentials the configuration names: NATS_CREDS (a file), or NATS_USER with NATS_PASSWORD, or none
 * (anonymous). Naming both kinds, or a user without a password, is a ConfigError.
 */
export function natsCredentials(
  config: Pick<BaseConfig, "NATS_CREDS" | "NATS_USER" | "NATS_PASSWORD">,
): NatsCredentials | undefined {
  const { NATS_CREDS: creds, NATS_USER: user, NATS_PASSWORD: password } = config;
  if (creds && (user || password))
    throw new ConfigError(["NATS_CREDS: set either NATS_CREDS or NATS_USER/NATS_PASSWORD, not both"]);
  if (creds) return { credsFile: creds };
  if (user && password) return { user, password };
  if (user) throw new ConfigError(["NATS_PASSWORD is required with NATS_USER"]);
  if (password) throw new ConfigError(["NATS_USER is required with NATS_PASSWORD"]);
  return undefined;
}
