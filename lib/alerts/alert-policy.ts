import { getEnv } from "@/lib/env";
import type { AlertPolicy, QuietPolicy } from "./alert-state";

/** The alert timings from the environment (lib/env.ts documents each). */
export function getAlertPolicy(): AlertPolicy {
  const env = getEnv();
  return {
    graceMs: env.ALERT_GRACE_SECONDS * 1000,
    recoveryMs: env.ALERT_RECOVERY_SECONDS * 1000,
    cooldownMs: env.ALERT_COOLDOWN_SECONDS * 1000,
  };
}

export function getQuietPolicy(): QuietPolicy {
  const env = getEnv();
  return { minSamples: env.ALERT_QUIET_MIN_SAMPLES, factor: env.ALERT_QUIET_FACTOR, minQuietMs: env.ALERT_QUIET_MIN_SECONDS * 1000 };
}
