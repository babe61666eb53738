import { requestWatcherReload } from "@/lib/db/queries/mailbox-changes";
import { withRoute } from "@/lib/http/route";

export const dynamic = "force-dynamic";
export const runtime = "nodejs";

/** Seed §10.2's start-watchers hook: every watcher reloads all mailboxes on this NOTIFY. */
export const POST = withRoute({ auth: "internal" }, async () => {
  await requestWatcherReload();
  return Response.json({ status: "reload_requested" }, { status: 202 });
});
