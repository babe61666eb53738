-- Hand-written (issue 13, helper "store"): rows stored before content_hash existed get sha256 of
-- their raw source, the value the ingester computes, so that a re-baseline (new UIDVALIDITY, an
-- expired history id or delta link) does not store them a second time. Where one mailbox holds the
-- same bytes twice, only the oldest row gets the hash: the unique key allows one.
UPDATE ingested_messages AS m
SET content_hash = h.hash
FROM (
  SELECT id, hash, row_number() OVER (PARTITION BY mailbox_id, hash ORDER BY received_at, id) AS n
  FROM (
    SELECT id, mailbox_id, received_at, encode(sha256(raw), 'hex') AS hash
    FROM ingested_messages
    WHERE content_hash IS NULL
  ) AS x
) AS h
WHERE m.id = h.id
  AND h.n = 1
  AND NOT EXISTS (SELECT 1 FROM ingested_messages AS e WHERE e.mailbox_id = m.mailbox_id AND e.content_hash = h.hash);
