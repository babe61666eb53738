import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type WebMetrics = {
  registry: Registry;
  requests: Counter<"method" | "route" | "status">;
  duration: Histogram<"method" | "route">;
};

// One registry per process even if the bundler loads this module more than once (route chunks).
const KEY = Symbol.for("mailbox-integration.web-metrics");
type Holder = { [KEY]?: WebMetrics };

/** The web process's Prometheus registry: request counts and latencies, plus Node's defaults. */
export function getWebMetrics(): WebMetrics {
  const holder = globalThis as Holder;
  if (holder[KEY]) return holder[KEY];
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics: WebMetrics = {
    registry,
    requests: new Counter({
      name: "http_requests_total",
      help: "HTTP requests handled by route handlers, by method, route and status",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    duration: new Histogram({
      name: "http_request_duration_seconds",
      help: "Route handler latency",
      labelNames: ["method", "route"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
  holder[KEY] = metrics;
  return metrics;
}

/** Ids in paths would make one time series per message or mailbox: they become ":id". */
export function routeLabel(pathname: string): string {
  return pathname
    .split("/")
    .map((part) =>
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(part) || /^\d+$/.test(part) || part.length > 40
        ? ":id"
        : part,
    )
    .join("/");
}

/**
 * The route's template ("/api/tenant/email/messages/[id]") from the request path and the params
 * Next matched: every segment that is a param's value becomes "[name]". Labels then come from the
 * set of route files, not from what a client puts in the path, so their number is fixed.
 */
export function routeTemplate(pathname: string, params: Record<string, unknown>): string {
  const byValue = new Map<string, string>();
  for (const [name, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) if (typeof v === "string") byValue.set(v, name);
  }
  return pathname
    .split("/")
    .map((part) => {
      let decoded = part;
      try {
        decoded = decodeURIComponent(part);
      } catch {
        // a malformed escape is not a param value Next could have matched
      }
      const name = byValue.get(decoded) ?? byValue.get(part);
      return name ? `[${name}]` : part;
    })
    .join("/");
}

/** Called once per request by withRoute (lib/http/route.ts) with the route's template; never throws. */
export function recordHttpRequest(method: string, route: string, status: number, seconds: number): void {
  try {
    const m = getWebMetrics();
    m.requests.inc({ method, route, status: String(status) });
    m.duration.observe({ method, route }, seconds);
  } catch {
    // metrics must never break a request
  }
}
