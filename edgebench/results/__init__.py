"""results: the results contract (schema), the SQLite store and its exports. Imports no sibling subpackage."""
