/**
 * Set by the web server (scripts/web-server.ts) from the TCP peer of every request, after removing
 * any value the client sent: route handlers get no socket, and Next keeps a client's own
 * X-Forwarded-For instead of the socket address when one is present.
 */
export const PEER_ADDRESS_HEADER = "x-mailbox-peer-address";
