"""The Azure Digital Twins data plane (API version 2023-10-31), served under ``/adt``.

Applications written against ADT's REST API or its SDKs point their endpoint at
``https://<host>/adt`` and keep working (docs/adt-compatibility.md). The modules here
only translate: ADT's paths, headers, JSON shapes and error codes on one side, one call
into a domain package (``graph``, ``ingest``, ``ontology``) on the other.

``api.adt.app.adt_app`` builds the sub-application ``api.app`` mounts; this package's own
surface is kept light (``AdtOptions``) because ``api.context`` imports it.
"""

from api.adt.options import API_VERSION, AdtOptions

__all__ = ["API_VERSION", "AdtOptions"]
