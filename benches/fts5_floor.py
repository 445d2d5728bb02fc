#!/usr/bin/env python3
"""FTS5's insert alone, over the index benchmark's text: the floor under the full index time.

    python3 benches/fts5_floor.py [target/index-bench/scale-1/corpus]

Reads every phase text file of the corpus made by `index_bench`, turns each into the document the
index gives FTS5 (its distinct lower-cased tokens), then times only the inserts into a table set
up as the index's (contentless, detail=none, 16 MB hash, merging deferred, one transaction).
Standard library only (Python's own SQLite; `contentless_delete` needs a newer one and is left out).
"""
import os
import re
import sqlite3
import sys
import tempfile
import time

TOKEN = re.compile(r"[A-Za-z0-9_\x80-\uffff]+")


def main() -> None:
    corpus = sys.argv[1] if len(sys.argv) > 1 else "target/index-bench/scale-1/corpus"
    docs, total = [], 0
    for root, _dirs, files in os.walk(corpus):
        for name in files:
            if name.endswith(".txt"):
                with open(os.path.join(root, name), "rb") as f:
                    data = f.read()
                total += len(data)
                docs.append(" ".join(set(TOKEN.findall(data.decode("utf-8", "replace").lower()))))
    if not docs:
        sys.exit(f"no .txt files under {corpus}: run the index benchmark first")
    print(f"{len(docs)} documents from {total / 1e6:.1f} MB of text "
          f"({sum(map(len, docs)) / 1e6:.1f} MB of distinct tokens)")
    with tempfile.TemporaryDirectory() as tmp:
        c = sqlite3.connect(os.path.join(tmp, "fts.sqlite3"), isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")
        c.execute("CREATE VIRTUAL TABLE t USING fts5(body, content='', detail=none, "
                  "tokenize='unicode61 remove_diacritics 0')")
        c.execute("INSERT INTO t(t, rank) VALUES('hashsize', 16777216)")
        c.execute("INSERT INTO t(t, rank) VALUES('automerge', 0)")
        start = time.perf_counter()
        c.execute("BEGIN")
        c.executemany("INSERT INTO t(rowid, body) VALUES (?, ?)", enumerate(docs, 1))
        c.execute("COMMIT")
        print(f"FTS5 inserts alone: {time.perf_counter() - start:.2f} s (SQLite {sqlite3.sqlite_version})")


if __name__ == "__main__":
    main()
