"""Residents' photos: received files kept in quarantine, safe re-encodings made public.

Imports only :mod:`geo` and no web framework: the upload and serving routes live in
:mod:`webmap` and :mod:`ingestion`, which call the functions of this package.
"""
