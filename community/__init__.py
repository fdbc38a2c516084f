"""Residents who answer each other.

Identity by magic link, relayed messages, the time bank's ledger, loans, and sign-ups
to missions and events.

Imports :mod:`geo`, :mod:`mail` and :mod:`ingestion` (its spam rules), never a web
framework: the pages and API routes live in :mod:`webmap`.
"""
