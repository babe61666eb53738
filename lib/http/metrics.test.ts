import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { getWebMetrics, recordHttpRequest, routeLabel, routeTemplate } from "./metrics";

describe("web request metrics", () => {
  it("labels routes without ids, so series stay few", () => {
    assert.equal(routeLabel("/api/tenant/email/messages/3f1c1c0e-4a7b-4f5e-9c59-1b2a3c4d5e6f/raw"), "/api/tenant/email/messages/:id/raw");
    assert.equal(routeLabel("/api/tenant/email/settings/booking"), "/api/tenant/email/settings/booking");
    assert.equal(routeLabel("/x/12345"), "/x/:id");
  });

  it("labels a request by its route template, whatever the client put in the path", () => {
    assert.equal(routeTemplate("/api/tenant/email/messages/not-a-uuid-at-all/raw", { id: "not-a-uuid-at-all" }), "/api/tenant/email/messages/[id]/raw");
    assert.equal(routeTemplate("/api/tenant/email/settings/booking/test", { email_type: "booking" }), "/api/tenant/email/settings/[email_type]/test");
    assert.equal(routeTemplate("/api/oauth/g%20x/callback", { provider: "g x" }), "/api/oauth/[provider]/callback");
    assert.equal(routeTemplate("/health", {}), "/health");
  });

  it("counts requests and latency in one process-wide registry", async () => {
    assert.equal(getWebMetrics(), getWebMetrics());
    recordHttpRequest("GET", "/health", 200, 0.003);
    recordHttpRequest("GET", "/health", 200, 0.004);
    const text = await getWebMetrics().registry.metrics();
    assert.match(text, /http_requests_total\{method="GET",route="\/health",status="200"\} 2/);
    assert.match(text, /http_request_duration_seconds_count\{method="GET",route="\/health"\} 2/);
  });
});
