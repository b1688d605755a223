// The label database's tables. Kept apart from the store so the shape can be read at a glance.

export const SCHEMA_VERSION = 1;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY,
  experiment TEXT NOT NULL,
  title TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  quorum INTEGER NOT NULL CHECK (quorum >= 1),
  created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS task_images (
  task TEXT NOT NULL REFERENCES tasks(id),
  image TEXT NOT NULL,
  ord INTEGER NOT NULL,
  prompt TEXT NOT NULL,
  path TEXT NOT NULL,
  category TEXT,
  split TEXT,
  PRIMARY KEY (task, image)
);
CREATE TABLE IF NOT EXISTS raters (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  token_hash TEXT NOT NULL UNIQUE,
  revoked INTEGER NOT NULL DEFAULT 0,
  created TEXT NOT NULL
);
-- seq orders a rater's labels for undo; a changed value gets a new seq (it is a new answer).
CREATE TABLE IF NOT EXISTS labels (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  task TEXT NOT NULL,
  image TEXT NOT NULL,
  rater TEXT NOT NULL REFERENCES raters(id),
  value TEXT NOT NULL CHECK (value IN ('good', 'bad', 'skip')),
  created TEXT NOT NULL,
  UNIQUE (task, image, rater),
  FOREIGN KEY (task, image) REFERENCES task_images(task, image)
);
CREATE INDEX IF NOT EXISTS labels_by_rater ON labels (rater, task, seq);
-- Accepted changes not yet acknowledged by the receiver. AUTOINCREMENT keeps seq growing after
-- deletes, so an event id never names two different events.
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('label', 'retract')),
  task TEXT NOT NULL,
  image TEXT NOT NULL,
  rater TEXT NOT NULL,
  value TEXT,
  at TEXT NOT NULL
);
`;
