import { type Logger, pino } from "pino";

/** Paths pino blanks out wherever they appear in a log line. */
const REDACT = [
  "token",
  "*.token",
  "botToken",
  "*.botToken",
  "appToken",
  "signingSecret",
  "*.signingSecret",
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  'headers["x-api-key"]',
  '*.headers["x-api-key"]',
  "SLACK_BOT_TOKEN",
  "SLACK_SIGNING_SECRET",
  "SLACK_APP_TOKEN",
  "ANTHROPIC_API_KEY",
  "*.SLACK_BOT_TOKEN",
  "*.SLACK_SIGNING_SECRET",
  "*.SLACK_APP_TOKEN",
  "*.ANTHROPIC_API_KEY",
  "NATS_PASSWORD",
  "*.NATS_PASSWORD",
  "password",
  "*.password",
  "pass",
  "*.pass",
  "credentials.password",
  "*.credentials.password",
  "seed",
  "*.seed",
];

/** Token shapes scrubbed from free text too (error messages, URLs). */
const SECRET_PATTERNS = [
  /xox[abposr]-[A-Za-z0-9-]+/g,
  /xapp-[A-Za-z0-9-]+/g,
  /sk-ant-[A-Za-z0-9_-]+/g,
  // NATS nkey seeds (user, account, operator …): an "S", the key type, then base32.
  /\bS[UACONPX][A-Z2-7]{56}\b/g,
];

/** Replaces anything that looks like a Slack or Anthropic token or a NATS seed with a marker. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const p of SECRET_PATTERNS) out = out.replace(p, "[redacted]");
  return out;
}

/** The process's root logger: JSON to stdout, secrets redacted by key and by shape. */
export function createLogger(service: string, level = "info", destination?: pino.DestinationStream): Logger {
  return pino(
    {
      name: service,
      level,
      redact: { paths: REDACT, censor: "[redacted]" },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === "string" ? scrubSecrets(a) : a)) as Parameters<typeof method>;
          method.apply(this, scrubbed);
        },
      },
      serializers: {
        err: (err: unknown) => {
          const s = pino.stdSerializers.err(err as Error);
          if (s && typeof s.message === "string") s.message = scrubSecrets(s.message);
          if (s && typeof s.stack === "string") s.stack = scrubSecrets(s.stack);
          return s;
        },
      },
    },
    destination,
  );
}
