import { nkeys } from "@nats-io/transport-node";
import { CredentialsError } from "./errors.js";

/** A NATS user nkey: the seed is the secret its holder signs with; the public key is what the server lists. */
export interface NkeyUser {
  /** `SU…`: secret; only the service that is this user may read it. */
  seed: string;
  /** `U…`: not secret; goes into the server's configuration. */
  publicKey: string;
}

/** A fresh user nkey. */
export function createNkeyUser(): NkeyUser {
  const kp = nkeys.createUser();
  return { seed: new TextDecoder().decode(kp.getSeed()), publicKey: kp.getPublicKey() };
}

/** The public key of a user seed; a CredentialsError when it is not one. */
export function nkeyUserFromSeed(seed: string): NkeyUser {
  const trimmed = seed.trim();
  if (!trimmed.startsWith("SU")) throw new CredentialsError("not a NATS user nkey seed (it starts with SU)");
  try {
    return { seed: trimmed, publicKey: nkeys.fromSeed(new TextEncoder().encode(trimmed)).getPublicKey() };
  } catch (err) {
    throw new CredentialsError("not a valid NATS user nkey seed", { cause: err });
  }
}
