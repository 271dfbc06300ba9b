"""Helpers shared by the test suites (one copy each):

* :mod:`tests.helpers.doctests`: running a module's docstring examples, finding public callables
  without one, the I/O modules a pure module imports;
* :mod:`tests.helpers.cancellation`: the cancellation storm (many requests cancelled at random
  moments) used against the fake server and the real one;
* :mod:`tests.helpers.looplag`: how late the loop wakes a sleeper while a block runs;
* :mod:`tests.helpers.oracle`: cassandra-driver as the value oracle (our values in its form, one
  canonical form for both drivers' values).

Waiting for a condition is :func:`aiocql.testing.polling.wait_until` (public: users' tests use it too).
"""
