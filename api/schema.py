"""The GraphQL schema for front ends (Strawberry): queries, mutations and subscriptions.

The roots live in their own modules (``api.query_root``, ``api.mutations``,
``api.subscriptions``); errors carry kgtwin's codes through :class:`api.graphql_errors.KgtwinSchema`.
The contract, with examples, is docs/api.md. How a request is parsed, validated and
executed fast (query caches, the executor) is ``api.fastpath``'s.
"""

from __future__ import annotations

from api.fastpath import FastExecutor, query_caches
from api.graphql_errors import KgtwinSchema
from api.mutations import Mutation
from api.query_root import Query
from api.subscriptions import Subscription

schema = KgtwinSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=query_caches(),
    execution_context_class=FastExecutor,
)
