"""Comparison report: tables, figures and a Markdown summary built only from a run's metrics files.

`plus.report.outputs` names the files (light to import); `plus.report.build.build_report` writes them."""
