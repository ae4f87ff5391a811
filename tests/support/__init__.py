"""What the test folders share: real servers by kind, pool helpers, and the leak checks.

* :mod:`.servers`: the :class:`~.servers.Server` record, connection counting,
  the listener loop and a counting TCP relay;
* :mod:`.raw`: scripted TCP peers; :mod:`.h11server`: a scripted HTTP/1.1
  server; :mod:`.h2server`: scripted HTTP/2 servers; :mod:`.asgi`: Hypercorn
  and its test app; :mod:`.proxy`: pproxy and a recording proxy;
  :mod:`.nginx`; :mod:`.tls`: trustme material;
* :mod:`.threaded`: any of those on a thread with its own trio run, for the
  blocking API's tests;
* :mod:`.pool`: requests through a pool, and checks of its state;
* :mod:`.leaks`: the checks every test runs under.

A test folder imports from here, never from another folder.
"""
