import { getDictionary } from "@/lib/i18n";
import { getRequestLocale } from "@/lib/i18n/server";

/** Shown while the server checks the session and renders the page. */
export default async function Loading() {
  const t = getDictionary(await getRequestLocale());
  return (
    <div className="page">
      <div className="card card-loading" aria-busy="true">
        <span className="spinner" aria-hidden="true" />
        <span>{t.common.loading}</span>
      </div>
    </div>
  );
}
