import { getTenantMessage } from "@/lib/mailboxes/message-views";
import { withRoute } from "@/lib/http/route";
import { isRawPruned } from "@/lib/db/queries/retention";
import { AppError } from "@/lib/errors";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

export const GET = withRoute<{ id: string }>({ auth: "session" }, async ({ params, tenantId }) => {
  const message = await getTenantMessage({ tenantId, messageId: params.id });
  if (isRawPruned(message)) throw new AppError(410, "raw_source_pruned", "The original of this message was removed by the retention policy.");
  return new Response(new Uint8Array(message.raw), {
    headers: {
      "content-type": "message/rfc822",
      // Never rendered inline: raw mail may carry active content.
      "content-disposition": `attachment; filename="${message.id}.eml"`,
      "x-content-type-options": "nosniff",
    },
  });
});
