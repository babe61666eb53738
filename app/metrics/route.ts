import { getWebMetrics } from "@/lib/http/metrics";
import { withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** Prometheus text format; `Authorization: Bearer $INTERNAL_API_TOKEN` (the web port is public). */
export const GET = withRoute({ auth: "internal" }, async () => {
  const { registry } = getWebMetrics();
  return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
});
