import { alertPreferencesSchema } from "@/lib/alerts/alert-schemas";
import { getAlertPreferences, updateAlertPreferences } from "@/lib/db/queries/users";
import { notFound } from "@/lib/errors";
import { parseJson, withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

const body = (p: { alertEmail: boolean; locale: string }): { alert_email: boolean; locale: string } => ({ alert_email: p.alertEmail, locale: p.locale });

/** The signed-in user's own alert email setting (every user decides for themselves). */
export const GET = withRoute({ auth: "session" }, async ({ session }) => {
  const prefs = await getAlertPreferences({ userId: session.user.id });
  if (!prefs) throw notFound("User");
  return Response.json(body(prefs));
});

export const PUT = withRoute({ auth: "session" }, async ({ req, session }) => {
  const input = await parseJson(req, alertPreferencesSchema);
  const prefs = await updateAlertPreferences({
    userId: session.user.id,
    patch: { ...(input.alert_email !== undefined ? { alertEmail: input.alert_email } : {}), ...(input.locale ? { locale: input.locale } : {}) },
  });
  if (!prefs) throw notFound("User");
  return Response.json(body(prefs));
});
