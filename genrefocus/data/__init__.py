"""Dataset readers, sample schema and bundled samples."""
