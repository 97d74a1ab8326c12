"""The protobuf and gRPC modules of ``proto/stepwise/v1``, written by ``clients/python/generate_stubs.py``
(committed; never edited by hand). Use them through ``stepwise_client.pb``."""
