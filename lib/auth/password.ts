import { hash, verify, type Algorithm, type Options } from "@node-rs/argon2";

/**
 * OWASP's argon2id baseline (m=19 MiB, t=2, p=1). `Algorithm` is an ambient const enum, which
 * isolatedModules can't inline, so the value is written out: 2 is Argon2id.
 */
const ARGON2_OPTIONS: Options = {
  algorithm: 2 as Algorithm,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
};

/** Longer inputs only cost CPU; no real password is this long. */
export const MAX_PASSWORD_LENGTH = 1024;

export async function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

/** False for a wrong password and for a malformed stored hash: neither may log anyone in. */
export async function verifyPassword(params: { hash: string; password: string }): Promise<boolean> {
  try {
    return await verify(params.hash, params.password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * Runs a full verify against a throwaway hash so an unknown email costs as much time as a known
 * one: response timing must not reveal which emails have accounts.
 */
export async function verifyDummyPassword(password: string): Promise<false> {
  dummyHash ??= hashPassword(`dummy-${Math.random()}`);
  await verifyPassword({ hash: await dummyHash, password });
  return false;
}
