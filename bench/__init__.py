"""The benchmark suite (`make bench`): a synthetic corpus, its loaders, and the
measurements of search, pages and throughput against what teams use instead.

Modules: ``vocabulary`` (word statistics read from the public corpora or the
demo data), ``corpus`` (deterministic post-mortems and their Markdown),
``loader`` (the bulk loader for the large corpora), ``queries`` (the 50 fixed
searches and their naive equivalents), ``measure`` (timings and query counts),
``load`` (gunicorn + wrk), ``suite`` (one engine × one size), ``run`` (the
whole run, ``results.json`` and ``docs/benchmarks.md``) and ``report``.
``import_search.py`` and ``patterns_bench.py`` are older stand-alone scripts.
"""
