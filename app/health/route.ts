import { pingDatabase } from "@/lib/db/queries/health";
import { withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const GET = withRoute({ auth: "none" }, async () => {
  const ok = await pingDatabase();
  return ok
    ? Response.json({ status: "ok", db: "ok" })
    : Response.json({ status: "error", db: "unreachable" }, { status: 503 });
});
