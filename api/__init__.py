"""Services for front ends, analysts and modelers: FastAPI + Strawberry GraphQL.

Only the composition root (``kgtwin``) imports this package.
"""

from api.app import create_app
from api.context import ApiContext, BackendHealth

__all__ = ["ApiContext", "BackendHealth", "create_app"]
