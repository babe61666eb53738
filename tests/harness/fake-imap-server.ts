import net from "node:net";

/**
 * A tiny IMAP4rev1 server for what Dovecot will not do: announce a message far above the size
 * cap (RFC822.SIZE) and stream a literal of that size if the body is asked for, or lie: announce
 * a small size and stream a literal far above it (`streamedSize`). One user, one
 * folder (INBOX), enough of the protocol for imapflow and the watcher: LOGIN, CAPABILITY, LIST,
 * SELECT/EXAMINE, STATUS, UID SEARCH, UID FETCH, UID STORE, UID MOVE, IDLE, NOOP, LOGOUT.
 */
export type FakeMessage = { uid: number; raw: Buffer; announcedSize: number; streamedSize: number; seen: boolean; internalDate: Date };

export type FakeImapServer = {
  host: "127.0.0.1";
  port: number;
  /**
   * Adds a message; `announcedSize` above raw.length makes a body request stream junk up to it.
   * `streamedSize` (default: the announced size) is the body literal's real length: set it above
   * a small announcedSize for a server whose RFC822.SIZE lies.
   */
  addMessage(raw: string | Buffer, opts?: { announcedSize?: number; streamedSize?: number }): FakeMessage;
  messages: FakeMessage[];
  /** UIDs whose whole body (BODY[] / BODY.PEEK[] / RFC822) a client requested. */
  bodyRequests: number[];
  /** Bytes of literal streamed for announced-but-fake sizes. */
  junkBytesSent: number;
  stop(): Promise<void>;
};

const UIDVALIDITY = 4242;

function imapDate(d: Date): string {
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `"${pad(d.getUTCDate())}-${months[d.getUTCMonth()]}-${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000"`;
}

function parseSet(set: string, max: number): (uid: number) => boolean {
  const parts = set.split(",").map((p) => p.split(":").map((x) => (x === "*" ? max : Number(x))));
  return (uid) => parts.some(([a, b]) => uid >= Math.min(a!, b ?? a!) && uid <= Math.max(a!, b ?? a!));
}

export async function startFakeImapServer({ user, password }: { user: string; password: string }): Promise<FakeImapServer> {
  const messages: FakeMessage[] = [];
  const idlers = new Set<net.Socket>();
  /** Sessions with INBOX selected: told about new mail at once (as Dovecot does between commands too). */
  const selected = new Set<net.Socket>();
  const sockets = new Set<net.Socket>();
  let nextUid = 1;
  const state: Pick<FakeImapServer, "bodyRequests" | "junkBytesSent"> = { bodyRequests: [], junkBytesSent: 0 };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => {
      sockets.delete(socket);
      idlers.delete(socket);
      selected.delete(socket);
    });
    socket.on("error", () => undefined);
    let buffer = "";
    let idleTag: string | null = null;
    const send = (line: string): boolean => socket.write(`${line}\r\n`);
    send("* OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS MOVE] fake IMAP ready");

    const streamJunk = async (total: number): Promise<void> => {
      // Streams the announced literal in 64 KiB chunks, honouring backpressure, until done or closed.
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      let left = total;
      while (left > 0 && !socket.destroyed) {
        const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= piece.length;
        state.junkBytesSent += piece.length;
        if (!socket.write(piece)) await new Promise((r) => socket.once("drain", r));
      }
    };

    const handle = async (line: string): Promise<void> => {
      if (idleTag) {
        if (line.trim().toUpperCase() === "DONE") {
          idlers.delete(socket);
          send(`${idleTag} OK IDLE terminated`);
          idleTag = null;
        }
        return;
      }
      const m = /^(\S+) (?:UID )?(\S+)(?: (.*))?$/i.exec(line);
      if (!m) return void send("* BAD syntax");
      const [, tag, rawCmd, args = ""] = m;
      const uidCmd = /^\S+ UID /i.test(line);
      const cmd = rawCmd!.toUpperCase();
      const max = messages.at(-1)?.uid ?? 0;
      switch (cmd) {
        case "CAPABILITY":
          send("* CAPABILITY IMAP4rev1 IDLE UIDPLUS MOVE");
          return void send(`${tag} OK CAPABILITY completed`);
        case "LOGIN": {
          const [u, p] = args.split(" ").map((s) => s.replace(/^"|"$/g, ""));
          if (u === user && p === password) return void send(`${tag} OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS MOVE] LOGIN completed`);
          return void send(`${tag} NO [AUTHENTICATIONFAILED] Invalid credentials`);
        }
        case "LIST":
        case "LSUB":
          if (/""\s*""$/.test(args)) send(`* ${cmd} (\\Noselect) "/" ""`);
          else send(`* ${cmd} (\\HasNoChildren) "/" INBOX`);
          return void send(`${tag} OK ${cmd} completed`);
        case "SELECT":
        case "EXAMINE":
          selected.add(socket);
          send(`* ${messages.length} EXISTS`);
          send("* 0 RECENT");
          send("* FLAGS (\\Seen \\Deleted)");
          send(`* OK [UIDVALIDITY ${UIDVALIDITY}] UIDs valid`);
          send(`* OK [UIDNEXT ${nextUid}] Predicted next UID`);
          return void send(`${tag} OK [${cmd === "SELECT" ? "READ-WRITE" : "READ-ONLY"}] ${cmd} completed`);
        case "STATUS":
          send(
            `* STATUS INBOX (MESSAGES ${messages.length} UNSEEN ${messages.filter((x) => !x.seen).length} UIDNEXT ${nextUid} UIDVALIDITY ${UIDVALIDITY})`,
          );
          return void send(`${tag} OK STATUS completed`);
        case "SEARCH": {
          let found = messages;
          if (/UNSEEN/i.test(args)) found = found.filter((x) => !x.seen);
          const uidRange = /UID (\S+)/i.exec(args);
          if (uidRange) {
            const inSet = parseSet(uidRange[1]!, max);
            found = found.filter((x) => inSet(x.uid));
          }
          send(`* SEARCH${found.map((x) => ` ${x.uid}`).join("")}`);
          return void send(`${tag} OK SEARCH completed`);
        }
        case "FETCH": {
          const [set = "", ...rest] = args.split(" ");
          const items = rest.join(" ").toUpperCase();
          const inSet = parseSet(set, max);
          for (const [i, msg] of messages.entries()) {
            if (!(uidCmd ? inSet(msg.uid) : inSet(i + 1))) continue;
            const attrs: string[] = [`UID ${msg.uid}`];
            if (items.includes("FLAGS")) attrs.push(`FLAGS (${msg.seen ? "\\Seen" : ""})`);
            if (items.includes("RFC822.SIZE")) attrs.push(`RFC822.SIZE ${msg.announcedSize}`);
            if (items.includes("INTERNALDATE")) attrs.push(`INTERNALDATE ${imapDate(msg.internalDate)}`);
            const wantsHeader = /BODY(?:\.PEEK)?\[HEADER\]/.test(items);
            const wantsBody = /BODY(?:\.PEEK)?\[\]/.test(items) || /RFC822(?![.A-Z])/.test(items);
            if (wantsHeader) {
              const end = msg.raw.indexOf("\r\n\r\n");
              const header = end >= 0 ? msg.raw.subarray(0, end + 4) : msg.raw;
              socket.write(`* ${i + 1} FETCH (${attrs.join(" ")} BODY[HEADER] {${header.length}}\r\n`);
              socket.write(header);
              send(")");
            } else if (wantsBody) {
              state.bodyRequests.push(msg.uid);
              // A partial fetch (BODY.PEEK[]<start.length>) gets only that slice.
              const partial = /BODY(?:\.PEEK)?\[\]<(\d+)\.(\d+)>/.exec(items);
              const start = partial ? Number(partial[1]) : 0;
              const length = Math.max(0, Math.min(partial ? Number(partial[2]) : Infinity, msg.streamedSize - start));
              const section = partial ? `BODY[]<${start}>` : "BODY[]";
              socket.write(`* ${i + 1} FETCH (${attrs.join(" ")} ${section} {${length}}\r\n`);
              const real = msg.raw.subarray(start, start + length);
              socket.write(real);
              if (length > real.length) await streamJunk(length - real.length);
              if (socket.destroyed) return;
              send(")");
            } else {
              send(`* ${i + 1} FETCH (${attrs.join(" ")})`);
            }
          }
          return void send(`${tag} OK FETCH completed`);
        }
        case "STORE": {
          const [set = ""] = args.split(" ");
          const inSet = parseSet(set, max);
          if (/\+FLAGS/i.test(args) && /\\Seen/i.test(args)) for (const msg of messages) if (inSet(msg.uid)) msg.seen = true;
          return void send(`${tag} OK STORE completed`);
        }
        case "MOVE":
        case "COPY":
        case "EXPUNGE":
          return void send(`${tag} OK ${cmd} completed`);
        case "IDLE":
          idleTag = tag!;
          idlers.add(socket);
          return void send("+ idling");
        case "NOOP":
        case "CHECK":
          return void send(`${tag} OK ${cmd} completed`);
        case "LOGOUT":
          send("* BYE logging out");
          send(`${tag} OK LOGOUT completed`);
          return void socket.end();
        default:
          return void send(`${tag} BAD unknown command ${cmd}`);
      }
    };

    let chain = Promise.resolve();
    socket.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("latin1");
      let nl: number;
      while ((nl = buffer.indexOf("\r\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        chain = chain.then(() => handle(line)).catch(() => void socket.destroy());
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: "127.0.0.1",
    port,
    messages,
    get bodyRequests() {
      return state.bodyRequests;
    },
    get junkBytesSent() {
      return state.junkBytesSent;
    },
    addMessage(raw, opts = {}) {
      const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
      const announcedSize = opts.announcedSize ?? buf.length;
      const msg: FakeMessage = {
        uid: nextUid++,
        raw: buf,
        announcedSize,
        streamedSize: opts.streamedSize ?? announcedSize,
        seen: false,
        internalDate: new Date(),
      };
      messages.push(msg);
      for (const s of selected) s.write(`* ${messages.length} EXISTS\r\n`);
      return msg;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
