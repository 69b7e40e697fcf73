// The embedded search provider: SQLite FTS5 over documents the operator adds, so `search` works with no network.
import type { Database, Statement } from "bun:sqlite";
import { collapseWhitespace, SNIPPET_MAX_CHARS, truncateText } from "./clean-text.ts";
import type { SearchResult } from "./types.ts";

// Documents live in a plain table (stable text ids, cheap replace by id); the FTS table indexes it as external
// content, kept in sync by triggers, so the text is stored once.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS search_documents (
  seq      INTEGER PRIMARY KEY,              -- the FTS rowid
  id       TEXT NOT NULL UNIQUE,
  title    TEXT NOT NULL,
  url      TEXT NOT NULL,                    -- '' when the document has none
  body     TEXT NOT NULL,
  added_at INTEGER NOT NULL                  -- unix milliseconds
);
CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
  title, url, body,
  content = 'search_documents', content_rowid = 'seq',
  tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS search_documents_ai AFTER INSERT ON search_documents BEGIN
  INSERT INTO search_fts (rowid, title, url, body) VALUES (new.seq, new.title, new.url, new.body);
END;
CREATE TRIGGER IF NOT EXISTS search_documents_ad AFTER DELETE ON search_documents BEGIN
  INSERT INTO search_fts (search_fts, rowid, title, url, body) VALUES ('delete', old.seq, old.title, old.url, old.body);
END;
CREATE TRIGGER IF NOT EXISTS search_documents_au AFTER UPDATE ON search_documents BEGIN
  INSERT INTO search_fts (search_fts, rowid, title, url, body) VALUES ('delete', old.seq, old.title, old.url, old.body);
  INSERT INTO search_fts (rowid, title, url, body) VALUES (new.seq, new.title, new.url, new.body);
END;
`;

/** bm25 column weights: a match in the title counts most; URLs tokenize into noise like "https" and "com". */
const BM25_WEIGHTS = "10.0, 0.5, 1.0";
const SNIPPET_TOKENS = 30;
/** Bounds the cost of one MATCH; a search query longer than this is a paste, not a question. */
const MAX_QUERY_TERMS = 32;
const MAX_LIMIT = 50;

export interface LocalDocument {
  id?: string;
  title: string;
  url?: string;
  text: string;
}

interface ResultRow {
  title: string;
  url: string;
  snippet: string;
}

export class LocalSearchIndex {
  private readonly db: Database;
  private readonly upsert: Statement;
  private readonly deleteById: Statement;

  constructor(db: Database) {
    this.db = db;
    db.run(SCHEMA);
    // Positional parameters, so this works whether or not the connection was opened with `strict`.
    this.upsert = db.prepare(
      `INSERT INTO search_documents (id, title, url, body, added_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET title = excluded.title, url = excluded.url, body = excluded.body, added_at = excluded.added_at`,
    );
    this.deleteById = db.prepare("DELETE FROM search_documents WHERE id = ?");
  }

  /** Adds documents in one transaction; a document whose id exists replaces it. Ids are generated when absent. */
  add(documents: LocalDocument[]): { added: number; ids: string[] } {
    const ids = documents.map((doc) => doc.id ?? `doc_${crypto.randomUUID()}`);
    const now = Date.now();
    this.db.transaction(() => {
      documents.forEach((doc, i) => this.upsert.run(ids[i]!, doc.title, doc.url ?? "", doc.text, now));
    })();
    return { added: documents.length, ids };
  }

  remove(ids: string[]): { removed: number } {
    let removed = 0;
    this.db.transaction(() => {
      for (const id of ids) removed += this.deleteById.run(id).changes;
    })();
    return { removed };
  }

  count(): number {
    return (this.db.query("SELECT count(*) AS n FROM search_documents").get() as { n: number }).n;
  }

  /** Best matches first (bm25). The query is plain words: FTS5 operators in it are searched for, never obeyed. */
  search(query: string, limit: number): SearchResult[] {
    const match = toMatchExpression(query);
    const rows = Math.min(Math.floor(limit), MAX_LIMIT);
    if (match === null || !(rows > 0)) return [];
    const found = this.db
      .query(
        `SELECT d.title AS title, d.url AS url,
                snippet(search_fts, 2, '', '', '…', ${SNIPPET_TOKENS}) AS snippet
         FROM search_fts JOIN search_documents d ON d.seq = search_fts.rowid
         WHERE search_fts MATCH ?
         ORDER BY bm25(search_fts, ${BM25_WEIGHTS})
         LIMIT ?`,
      )
      .all(match, rows) as ResultRow[];
    return found.map((row) => ({
      title: row.title,
      url: row.url,
      snippet: truncateText(collapseWhitespace(row.snippet), SNIPPET_MAX_CHARS),
    }));
  }
}

/**
 * Turns what a user or model typed into an FTS5 expression that cannot be a syntax error: the words (runs of
 * letters, digits and combining marks — what the unicode61 tokenizer keeps) each become a quoted string, joined
 * with OR, so `foo AND (` searches for "foo" or "and". Null when nothing searchable is left.
 */
export function toMatchExpression(query: string): string | null {
  const words = query.normalize("NFC").match(/[\p{L}\p{N}\p{M}\p{Co}]+/gu);
  if (!words) return null;
  const unique = [...new Set(words.map((word) => word.toLowerCase()))].slice(0, MAX_QUERY_TERMS);
  // A word holds no double quote, so wrapping it in quotes is a complete escape.
  return unique.map((word) => `"${word}"`).join(" OR ");
}
