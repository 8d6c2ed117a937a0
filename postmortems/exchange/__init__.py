"""Import and export of post-mortems.

* ``corpus``: the public JSON Lines corpora (icco/postmortems, danluu/post-mortems,
  the ISSRE'22 cloud post-mortems) and the tables that map their categories to
  our contributing-factor taxonomy.
* ``markdown_format``: the Markdown one-pager (YAML front matter plus the four
  sections), parsed and rendered losslessly.
* ``importer``: ``import_paths`` reads files and directories, stores each record
  through ``services.postmortem_save`` in its own savepoint and returns an
  ``ImportReport``; the ``import_postmortems`` command is a thin wrapper.
"""
