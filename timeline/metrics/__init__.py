"""Numbers an operator can watch: counters shared through the cache, and the /metrics endpoint.

`counters` is what the rest of the code calls when something worth counting happens; `collector`
reads those counts and the database at scrape time; `views` serves them to Prometheus.
"""
