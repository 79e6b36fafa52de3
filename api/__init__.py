"""Services for front ends, analysts and modelers: FastAPI + Strawberry GraphQL.

Only the composition root (``kgtwin``) imports this package. Public surface: the app
(``create_app``) and what it serves from, built whole (``ApiContext``, ``twin_context``);
``BackendHealth`` is what the readiness probe reports.
"""

from api.app import create_app
from api.context import ApiContext, BackendHealth, twin_context

__all__ = ["ApiContext", "BackendHealth", "create_app", "twin_context"]
