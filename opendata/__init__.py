"""Open-data files: every published feature in every format, runnable without the web app.

``opendata`` imports only ``geo`` (an import-linter contract checks it): the files are
written from the database and the published schema (:mod:`geo.published`), so a cron
job or the worker can export without Flask. ``webmap`` serves what it wrote.
"""
