"""The Hindsight-compatible surface, mounted at ``/v1/default/``: the public Hindsight server's
API for the official clients (Python ``hindsight-client``, TypeScript
``@vectorize-io/hindsight-client``), as one package -- its routes (``urls``), views
(``bank_views``, ``operation_views``), schema serializers, translations to and from the
upstream shapes (``banks``, ``operations``) and error shapes (``errors``). It translates only:
every call goes to the same services as the native API (docs/api.md).
"""
