import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credsFileAuthenticator } from "./connection.js";
import { CredentialsError } from "./errors.js";
import { createNkeyUser, nkeyUserFromSeed } from "./nkey-users.js";

describe("NATS credentials files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "mllead-creds-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("signs the server's nonce with an nkey seed file, as the user whose public key it is", async () => {
    const user = createNkeyUser();
    expect(nkeyUserFromSeed(user.seed).publicKey).toBe(user.publicKey);
    const file = join(dir, "tech-lead.nk");
    await writeFile(file, `# the tech lead's seed\n${user.seed}\n`);
    const auth = (await credsFileAuthenticator(file))("nonce-from-server");
    expect(auth).toMatchObject({ nkey: user.publicKey });
    expect(typeof (auth as { sig?: unknown }).sig).toBe("string");
  });

  it("says what is wrong with a file it cannot use", async () => {
    const bad = join(dir, "bad.nk");
    await writeFile(bad, "not a seed\n");
    await expect(credsFileAuthenticator(bad)).rejects.toThrow(CredentialsError);
    await expect(credsFileAuthenticator(bad)).rejects.toThrow(/neither a user JWT .* nor a user nkey seed/);
    await expect(credsFileAuthenticator(join(dir, "missing.nk"))).rejects.toThrow(/cannot read the NATS credentials file/);
    expect(() => nkeyUserFromSeed("SAxxxx")).toThrow(CredentialsError);
  });
});
