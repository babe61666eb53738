import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import { startTcpRelay } from "./tcp-relay";

let echo: net.Server;
let echoPort = 0;

before(async () => {
  echo = net.createServer((s) => {
    s.on("error", () => {});
    s.pipe(s);
  });
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", () => resolve()));
  echoPort = (echo.address() as net.AddressInfo).port;
});

after(async () => {
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => resolve(s));
    s.once("error", reject);
  });
}

/** Everything the socket receives within `ms`. */
function receive(s: net.Socket, ms: number): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const onData = (d: Buffer): void => void (got += d.toString());
    s.on("data", onData);
    setTimeout(() => {
      s.off("data", onData);
      resolve(got);
    }, ms);
  });
}

describe("tcp relay", () => {
  it("relays, then after freeze() passes nothing either way without closing; new connections still work", async () => {
    const relay = await startTcpRelay({ targetPort: echoPort });
    const a = await connect(relay.port);
    let closed = false;
    a.on("close", () => (closed = true));
    const first = receive(a, 300);
    a.write("hello");
    assert.equal(await first, "hello");
    relay.freeze();
    const frozen = receive(a, 1000);
    // Writes into a frozen path still succeed locally: that is what makes it hard to notice.
    assert.equal(a.write("anyone there?"), true);
    assert.equal(await frozen, "");
    assert.equal(closed, false);
    assert.equal(a.destroyed, false);
    const b = await connect(relay.port);
    const second = receive(b, 300);
    b.write("reconnected");
    assert.equal(await second, "reconnected");
    assert.equal(relay.accepted, 2);
    a.destroy();
    b.destroy();
    await relay.close();
  });

  it("silent mode sends nothing; trickle mode sends a greeting that never ends", async () => {
    const silent = await startTcpRelay({ mode: "silent" });
    const s = await connect(silent.port);
    assert.equal(await receive(s, 500), "");
    s.destroy();
    await silent.close();
    const trickle = await startTcpRelay({ mode: "trickle" });
    const t = await connect(trickle.port);
    const got = await receive(t, 1000);
    assert.match(got, /^\* OK x+$/);
    assert.equal(got.includes("\n"), false);
    t.destroy();
    await trickle.close();
  });
});
