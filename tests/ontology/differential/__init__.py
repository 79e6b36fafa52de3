"""Differential testing of kgtwin's DTDL parser against Microsoft's DTDLParser.

``microsoft`` runs the official parser (``tools/dtdl-parser``); ``corpus`` builds the cases
(real ontologies whole and per Interface, moved between DTDL versions, edited by
``mutations``, and ``generated`` Interfaces); ``compare`` runs both parsers on each case
and tallies the agreement. ``tests/ontology/test_differential.py`` requires full agreement
on a fixed sample; ``bench/dtdl_differential.py`` runs thousands of cases.
"""
