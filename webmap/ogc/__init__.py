"""OGC API - Features and its building blocks, kept together.

``views`` is the blueprint (``/ogc/``); ``params`` parses and checks query parameters
(shared by ``/api/v1/features``, the filtered tiles, the calendar and the walk);
``queries`` turns a parsed filter into SQL; ``openapi`` writes the OpenAPI document;
``html`` renders the HTML pages of the same resources.
"""
