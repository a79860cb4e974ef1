"""Moving comments between the database and other tools' files.

``packet``: the streaming, hardened legacy-XML reader (it needs lxml, which the data side may not
import). ``load``: `import_files`, which runs a reader of `nicocomments.importers` over each file
and stores what it yields, in batches, with a ``fetch_runs`` row per file.
"""
