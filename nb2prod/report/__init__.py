"""Report: what a build or a parity run found, for people (console, HTML) and for CI (JUnit XML, Markdown)."""
