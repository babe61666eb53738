import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileDescriptorBudget } from "./fd-budget";

describe("bench open-file budget", () => {
  it("sizes each process on its own: 10,000 mailboxes fit a 20,000 per-process limit", () => {
    assert.deepEqual(fileDescriptorBudget({ mailboxes: 10_000, imapClientLimit: 500 }), {
      watcher: 11_024,
      bench: 11_024,
      dovecotImap: 2_256,
      largest: 11_024,
    });
  });

  it("a Dovecot process never holds more sessions than there are mailboxes, nor fewer than one", () => {
    assert.equal(fileDescriptorBudget({ mailboxes: 100, imapClientLimit: 500 }).dovecotImap, 656);
    assert.equal(fileDescriptorBudget({ mailboxes: 2_000, imapClientLimit: 1 }).dovecotImap, 260);
    assert.equal(fileDescriptorBudget({ mailboxes: 2_000, imapClientLimit: 0 }).dovecotImap, 260);
    assert.equal(fileDescriptorBudget({ mailboxes: 2_000, imapClientLimit: 500 }).largest, 3_024);
  });
});
