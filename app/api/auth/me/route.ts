import { withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const GET = withRoute({ auth: "session" }, async ({ session }) =>
  Response.json({ user: session.user, tenant: session.tenant }),
);
