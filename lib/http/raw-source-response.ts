import { isRawPruned } from "@/lib/db/queries/retention";
import { AppError } from "@/lib/errors";

/**
 * A message's original as a download, for the session route and the signed webhook link alike:
 * 410 once retention removed it, never rendered inline (raw mail may carry active content), never
 * cached (a shared cache must not keep someone's mail).
 */
export function rawSourceResponse(message: { id: string; raw: Buffer; size: number }): Response {
  if (isRawPruned(message)) throw new AppError(410, "raw_source_pruned", "The original of this message was removed by the retention policy.");
  return new Response(new Uint8Array(message.raw), {
    headers: {
      "content-type": "message/rfc822",
      "content-disposition": `attachment; filename="${message.id}.eml"`,
      "x-content-type-options": "nosniff",
      "cache-control": "private, no-store",
    },
  });
}
