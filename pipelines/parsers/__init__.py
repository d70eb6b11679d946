"""One module per upstream format; each exposes `parse(path, options) -> ParsedFile`."""
